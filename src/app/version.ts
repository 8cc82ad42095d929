// The version, read from package.json at build time by the bundler and at run time from the source tree.
import pkg from '../../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
