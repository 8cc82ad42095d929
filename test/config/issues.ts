// The issues a config is rejected with, for tests that assert the exact key path.
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/app/config.ts';
import type { ConfigIssue } from '../../src/config/validate.ts';
import { isEdgeloopError } from '../../src/errors.ts';

export function configIssues(raw: unknown, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  try {
    resolveConfig(raw, env);
  } catch (err) {
    assert.ok(isEdgeloopError(err, 'CONFIG_INVALID'), `expected EDGELOOP_ERR_CONFIG_INVALID, got ${String(err)}`);
    return err.details as ConfigIssue[];
  }
  assert.fail('the config was accepted');
}
