import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { REDACTED, redact, secretsOf } from '../../src/lib/redact.ts';

describe('redact', () => {
  const TEXT: [string, string, string][] = [
    ['user and password in a URL', 'MQTT mqtt://gw:pa55@broker:1883: refused', `MQTT mqtt://${REDACTED}@broker:1883: refused`],
    ['a token as the user of a URL', 'https://ghp_abc123@host/x', `https://${REDACTED}@host/x`],
    ['token-like query parameters', 'https://h/?site=n&api_key=k&sig=s', `https://h/?site=n&api_key=${REDACTED}&sig=${REDACTED}`],
    ['a bearer credential', 'authorization: Bearer eyJhbGciOi.J9.x', `authorization: Bearer ${REDACTED}`],
    ['a basic credential', 'Basic Z3c6cGE1NQ==', `Basic ${REDACTED}`],
    [
      'a PEM private key',
      'key:\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\nrest',
      `key:\n${REDACTED}\nrest`,
    ],
    ['a URL without secrets', 'mqtts://broker.example:8883/path?site=north', 'mqtts://broker.example:8883/path?site=north'],
    ['a plain sentence', 'sensor soc read 48.3', 'sensor soc read 48.3'],
  ];
  for (const [what, input, expected] of TEXT) {
    test(`text: ${what}`, () => assert.equal(redact(input), expected));
  }

  test('objects: values under secret keys at any depth, whatever their case; the rest copied', () => {
    const value = {
      api: { token: 'tok-123456', port: 8080 },
      mqtt: [{ url: 'mqtt://u:p4ss@b', password: 'pw', username: 'gw', tls: { key: '/etc/k.pem', ca: '/etc/ca.pem' } }],
      http: [{ headers: { Authorization: 'Bearer x', 'X-API-Key': 'k', Cookie: 'sid=1', 'x-tenant': 'north' } }],
      n: null,
    };
    const shown = redact(value);
    assert.deepEqual(shown, {
      api: { token: REDACTED, port: 8080 },
      mqtt: [{ url: `mqtt://${REDACTED}@b`, password: REDACTED, username: 'gw', tls: { key: REDACTED, ca: '/etc/ca.pem' } }],
      http: [{ headers: { Authorization: REDACTED, 'X-API-Key': REDACTED, Cookie: REDACTED, 'x-tenant': 'north' } }],
      n: null,
    });
    assert.equal(value.api.token, 'tok-123456', 'the original is left as it was');
  });

  test('known secrets are hidden wherever they turn up, also JSON-escaped', () => {
    const known = ['s3cr"et-value'];
    assert.equal(redact('the broker said: bad password s3cr"et-value', known), `the broker said: bad password ${REDACTED}`);
    assert.equal(redact(JSON.stringify({ msg: 'x s3cr"et-value y' }), known), `{"msg":"x ${REDACTED} y"}`);
  });

  test('secretsOf finds the values under secret keys and the user-info of URLs; short ones are left out', () => {
    const found = secretsOf({
      api: { token: 'api-token-1234' },
      mqtt: { url: 'mqtt://user%40x:p%40ss@h', password: 'pw' },
      http: [{ headers: { authorization: 'Bearer abcdef' }, url: 'https://ghp_tok3n@git.example/x' }],
    });
    for (const s of ['api-token-1234', 'Bearer abcdef', 'abcdef', 'p%40ss', 'p@ss', 'ghp_tok3n']) assert.ok(found.includes(s), s);
    assert.ok(!found.includes('pw'), 'too short to search for in text');
    assert.ok(!found.includes('user@x'), 'a user name beside a password is hidden in URLs only, not searched for in text');
  });
});
