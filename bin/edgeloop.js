#!/usr/bin/env node
// The published entry point: Node 24 strips the types of the TypeScript sources directly.
import '../src/cli/main.ts';
