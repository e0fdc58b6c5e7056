/**
 * The query language of the event search (`xiangan search`, `GET /api/v1/events?q=`) as a
 * backend-neutral syntax tree. `parseQuery` (./parse.ts) turns text into a {@link QueryNode};
 * each storage backend compiles the tree its own way (SQLite to parameterised SQL, Elasticsearch
 * and OpenSearch to the query DSL). The grammar is a small subset of the Lucene / KQL syntax that
 * analysts already know:
 *
 * ```text
 * query    := or
 * or       := and ( "OR" and )*
 * and      := unary ( ["AND"] unary )*          -- juxtaposition means AND
 * unary    := "NOT" unary | "-" unary | primary
 * primary  := "(" query ")" | field ":" value | field op value | term | "phrase"
 * value    := term | "phrase" | "[" a "TO" b "]" | "{" a "TO" b "}" | "*" | cidr | "(" value ("OR" value)* ")"
 * op       := ">=" | ">" | "<=" | "<"           -- written as field:>=v or field>=v
 * ```
 *
 * Examples: `source.ip:10.0.0.0/8 AND event.outcome:failure`, `user.name:adm*`,
 * `destination.port:[1 TO 1024]`, `event.severity:>=4`, `"failed password" NOT user.name:root`,
 * `sshd` (bare term: full text over `message`).
 *
 * @packageDocumentation
 */

/** A scalar as written in a query: numbers stay strings until a backend knows the field's type. */
export type QueryValue = string;

/** Match everything (the empty query). */
export interface MatchAllNode {
  kind: 'all';
}

/** All children must match. Never empty. */
export interface AndNode {
  kind: 'and';
  children: QueryNode[];
}

/** At least one child must match. Never empty. */
export interface OrNode {
  kind: 'or';
  children: QueryNode[];
}

/** The child must not match. */
export interface NotNode {
  kind: 'not';
  child: QueryNode;
}

/**
 * `field:value`: exact, case-sensitive equality on a keyword or number field. For an array field
 * (`event.category`, `related.ip`) any element may equal the value.
 */
export interface TermNode {
  kind: 'term';
  field: string;
  value: QueryValue;
}

/**
 * `field:"a phrase"` is exact equality like {@link TermNode} (the quotes only allow spaces and
 * operators inside the value); without a field (`"failed password"`) it is a full-text phrase over
 * `message`.
 */
export interface PhraseNode {
  kind: 'phrase';
  /** Absent for a full-text phrase over `message`. */
  field?: string;
  value: QueryValue;
}

/**
 * `field:val*ue?`: `*` matches any run of characters (also none), `?` exactly one. Case-sensitive.
 * A backslash escapes a literal `*` or `?` in the pattern.
 */
export interface WildcardNode {
  kind: 'wildcard';
  field: string;
  pattern: string;
}

/** `field:*`: the field is present and not null. */
export interface ExistsNode {
  kind: 'exists';
  field: string;
}

/**
 * `field:[a TO b]` (inclusive), `field:{a TO b}` (exclusive), mixed brackets, `*` for an open end,
 * and the comparisons `field:>=a`, `>a`, `<=b`, `<b`. Values compare as numbers when both the
 * bound and the field are numeric, otherwise as strings (ISO 8601 times compare correctly as strings).
 */
export interface RangeNode {
  kind: 'range';
  field: string;
  gt?: QueryValue;
  gte?: QueryValue;
  lt?: QueryValue;
  lte?: QueryValue;
}

/**
 * `field:10.0.0.0/8` or `field:2001:db8::/32`: the IP address in `field` lies in the network.
 * `prefix` is the canonical network address, `bits` the prefix length.
 */
export interface CidrNode {
  kind: 'cidr';
  field: string;
  /** `4` or `6`. */
  family: 4 | 6;
  /** Network address with host bits cleared, e.g. `10.0.0.0`. */
  prefix: string;
  bits: number;
}

/**
 * A bare word (`sshd`, `fail*`): full-text over `message`, token-based and case-insensitive.
 * A trailing `*` makes it a prefix match.
 */
export interface TextNode {
  kind: 'text';
  value: QueryValue;
  /** True for `word*`. */
  prefix?: boolean;
}

/** Any node of the query tree. */
export type QueryNode =
  | MatchAllNode
  | AndNode
  | OrNode
  | NotNode
  | TermNode
  | PhraseNode
  | WildcardNode
  | ExistsNode
  | RangeNode
  | CidrNode
  | TextNode;

/** The field that bare terms and unfielded phrases search. */
export const FULL_TEXT_FIELD = 'message';
