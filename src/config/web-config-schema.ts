import { Ajv, type ErrorObject } from 'ajv';

/**
 * The shape of the exporter-toolkit web config file as a JSON schema (the toolkit's field names),
 * compiled once at module load. It checks keys, types and the closed value sets; what a schema
 * says badly (exactly one of cert_file and cert, a CA for verifying client auth types, files that
 * can be read) is checked by web-config.ts after it.
 *
 * `messages` (keyword → template) gives a field its own error line: {where} is the field's dotted
 * path, {parent} the path without its last step (a list's name for one of its items), {value} the
 * offending value and {allowed} the schema's enum. Only fields that hold no secret use {value}.
 */

export const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
export const CLIENT_AUTH = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'] as const;
/** Go's cipher suite names (the toolkit's) → OpenSSL's. */
export const CIPHERS: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
};
export const CURVES: Record<string, string> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };
/** Response headers the toolkit lets the file set; two of them only with the values it accepts. */
const HEADERS = ['Content-Security-Policy', 'X-Frame-Options', 'X-Content-Type-Options', 'X-XSS-Protection', 'Strict-Transport-Security'];
export const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/** null, '' and a missing key all mean "not set", as in the toolkit's YAML. */
const optionalString = { type: ['string', 'null'] };
const mapping = (schema: object) => ({ type: ['object', 'null'], ...schema });
/** One of a closed set; '' and null leave the toolkit's default. */
const choice = (values: readonly string[]) => ({
  type: ['string', 'null'],
  enum: [...values, '', null],
  messages: { enum: `{where}: "{value}" is not one of ${values.join(', ')}` },
});
const listOf = (values: readonly string[]) => ({
  type: ['array', 'null'],
  items: { enum: values, messages: { enum: '{parent}: "{value}" is not supported (supported: {allowed})' } },
});
const caseInsensitive = (word: string) => [...word].map((c) => (/[a-z]/i.test(c) ? `[${c.toUpperCase()}${c.toLowerCase()}]` : c)).join('');
const headerValue = (...words: string[]) => ({
  type: 'string',
  pattern: `^(${words.map(caseInsensitive).join('|')})$`,
  messages: { pattern: '{where}: invalid value "{value}"' },
});
const BCRYPT_MESSAGE = '{where}: not a bcrypt hash (expected $2a$/$2b$/$2y$…)';
const BURST_MESSAGE = '{where} must be a positive integer';
const DURATION_MESSAGE = '{where}: "{value}" is not a duration like 1s or 500ms';

const schema = mapping({
  additionalProperties: false,
  properties: {
    tls_server_config: mapping({
      additionalProperties: false,
      properties: {
        cert_file: optionalString,
        key_file: optionalString,
        cert: optionalString,
        key: optionalString,
        client_auth_type: choice(CLIENT_AUTH),
        client_ca_file: optionalString,
        client_ca: optionalString,
        client_allowed_sans: { type: ['array', 'null'] },
        min_version: choice(Object.keys(TLS_VERSIONS)),
        max_version: choice(Object.keys(TLS_VERSIONS)),
        cipher_suites: listOf(Object.keys(CIPHERS)),
        prefer_server_cipher_suites: {},
        curve_preferences: listOf(Object.keys(CURVES)),
      },
    }),
    http_server_config: mapping({
      additionalProperties: false,
      properties: {
        http2: {},
        headers: mapping({
          propertyNames: { enum: HEADERS, messages: { enum: '{where}: "{value}" may not be set (allowed: {allowed})' } },
          additionalProperties: { type: 'string' },
          properties: {
            'X-Frame-Options': headerValue('deny', 'sameorigin'),
            'X-Content-Type-Options': headerValue('nosniff'),
          },
        }),
      },
    }),
    basic_auth_users: mapping({
      additionalProperties: { type: 'string', pattern: BCRYPT_HASH.source, messages: { type: BCRYPT_MESSAGE, pattern: BCRYPT_MESSAGE } },
    }),
    rate_limit: mapping({
      additionalProperties: false,
      properties: {
        interval: { type: 'string', pattern: '^\\d+(\\.\\d+)?(ms|s|m|h)$', messages: { type: DURATION_MESSAGE, pattern: DURATION_MESSAGE } },
        // A quoted number ('5') was always accepted; kept.
        burst: { type: ['integer', 'string'], minimum: 1, pattern: '^0*[1-9]\\d*$', messages: { type: BURST_MESSAGE, minimum: BURST_MESSAGE, pattern: BURST_MESSAGE } },
      },
      // An empty rate_limit means none; a non-empty one needs both.
      if: { type: 'object', minProperties: 1 },
      then: { type: 'object', required: ['interval', 'burst'] },
    }),
  },
});

const ajv = new Ajv({ allErrors: false, verbose: true, allowUnionTypes: true });
ajv.addKeyword({ keyword: 'messages', schemaType: 'object' });
const validate = ajv.compile(schema);

/** undefined when `doc` has the toolkit's shape, else one line naming the first wrong field. */
export function webConfigShapeError(doc: unknown): string | undefined {
  if (validate(doc)) return undefined;
  return describe(validate.errors![0]!);
}

const TYPE_WORDS: Record<string, string> = { object: 'a mapping', string: 'a string', array: 'a list', integer: 'an integer' };

/** The type a field must have, in words; null (= not set) is always allowed beside it. */
function typeWord(types: string | string[]): string {
  const type = ([] as string[]).concat(types).find((t) => t !== 'null') ?? '';
  return TYPE_WORDS[type] ?? type;
}

function describe(err: ErrorObject): string {
  const steps = err.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = err.params as Record<string, unknown>;
  const parentSchema = err.parentSchema as { messages?: Record<string, string>; properties?: object } | undefined;
  const fields: Record<string, string> = {
    where: steps.length === 0 ? 'the file' : steps.join('.'),
    parent: steps.slice(0, -1).join('.'),
    allowed: Array.isArray(err.schema) ? err.schema.join(', ') : '',
    value: err.propertyName ?? String(err.data),
    key: String(params['additionalProperty'] ?? params['missingProperty']),
    keys: Object.keys(parentSchema?.properties ?? {}).join(', '),
    type: err.keyword === 'type' ? typeWord(err.schema as string | string[]) : '',
  };
  const template = parentSchema?.messages?.[err.keyword] ?? DEFAULT_TEMPLATES[err.keyword] ?? '{where}: invalid value';
  // One pass, so a user name or value that looks like a placeholder stays as it is.
  return template.replace(/\{(\w+)\}/g, (_, k: string) => fields[k] ?? '');
}

/** Lines for keywords without one of their own; none of them shows the value. */
const DEFAULT_TEMPLATES: Record<string, string> = {
  additionalProperties: 'unknown key "{key}" in {where} (allowed: {keys})',
  type: '{where} must be {type}',
  required: '{where}.{key} is required',
};
