#!/usr/bin/env -S node --max-semi-space-size=2
// The published entry point. A 2 MB young generation keeps the resident size of a long-running gateway flat (the
// default lets it grow by ~20 MB before it settles) for a little more garbage-collection work. Node 24 runs the
// TypeScript sources directly (type stripping); an older Node cannot, so say so instead of failing on a `.ts` import.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`edgeloop needs Node.js 24 or newer (this is ${process.version}); run it through npm (npx edgeloop …), which uses the Node 24 the project installs`);
  process.exit(1);
}
await import('../src/cli/main.ts');
