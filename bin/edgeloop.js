#!/usr/bin/env node
// The published entry point. Node 24 runs the TypeScript sources directly (type stripping); an older Node cannot,
// so say so instead of failing on the first `.ts` import.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`edgeloop needs Node.js 24 or newer (this is ${process.version}); run it through npm (npx edgeloop …), which uses the Node 24 the project installs`);
  process.exit(1);
}
await import('../src/cli/main.ts');
