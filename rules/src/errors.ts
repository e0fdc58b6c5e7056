/**
 * Errors of `@xiangan/rules`.
 *
 * Misuse (a wrong argument type) throws `TypeError`/`RangeError`. A rule, pipeline, list or
 * snapshot that is bad data throws {@link RuleError} with a stable `code` listed in
 * `docs/errors.md`.
 *
 * @example
 * try { compileRules(docs, pipeline); } catch (e) { if (e instanceof RuleError && e.code === 'RULE_ERR_SCHEMA') … }
 */
export class RuleError extends Error {
  override readonly name = 'RuleError';
  /** Stable machine-readable code, e.g. `RULE_ERR_UNSUPPORTED_MODIFIER`. */
  readonly code: RuleErrorCode;
  /** Where in the rule the problem is (JSON pointer-like path), when known. */
  readonly path: string | undefined;
  constructor(code: RuleErrorCode, message: string, options?: { cause?: unknown; path?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.path = options?.path;
  }
}

/**
 * Every code `RuleError` can carry, with its meaning. `docs/errors.md` is kept in sync with
 * this table by a test: add a code here and document it there.
 */
export const RULE_ERROR_CODES = {
  RULE_ERR_YAML: 'a rule, pipeline or list file is not well-formed YAML/JSON/CSV',
  RULE_ERR_SCHEMA: 'a rule or pipeline does not satisfy its JSON Schema (the message names the path)',
  RULE_ERR_CONDITION: 'a detection condition cannot be parsed or names a selection that does not exist',
  RULE_ERR_UNSUPPORTED_MODIFIER: 'a value modifier (or modifier combination) the engine does not implement',
  RULE_ERR_UNSUPPORTED_LOGSOURCE: 'the pipeline has no mapping for the rule logsource',
  RULE_ERR_UNSUPPORTED_FIELD: 'the pipeline has no mapping for a field the rule uses',
  RULE_ERR_UNSUPPORTED: 'a Sigma construct the engine does not support (aggregation, collection action, placeholder…)',
  RULE_ERR_REGEX: 'a regular expression is invalid or not expressible in linear time (RE2)',
  RULE_ERR_LIMIT: 'a bound was exceeded: value size, regex size, value expansion, rule count',
  RULE_ERR_VALUE: 'a value is malformed for its modifier (bad CIDR, non-numeric comparison, bad time range)',
  RULE_ERR_DUPLICATE_ID: 'two rules carry the same id',
  RULE_ERR_REFERENCE: 'a correlation or filter references a rule that is not loaded',
  RULE_ERR_LIST: 'a threat-intel list is unknown or its source (CSV, STIX 2.1) is malformed',
  RULE_ERR_SNAPSHOT: 'a correlation state snapshot is malformed or of another version',
} as const;

/** A code `RuleError` can carry. */
export type RuleErrorCode = keyof typeof RULE_ERROR_CODES;
