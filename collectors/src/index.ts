export * from './types.js';
export * from './errors.js';
export * from './ecs/index.js';
export {
  normalise,
  normaliseJson,
  normaliseText,
  createNormaliser,
  readWinEvent,
  applyWinEvent,
  FORMATS,
  type FormatName,
  type NormaliseOptions,
  type WinEvent,
  type LineParser,
  type ParseInput,
} from './parsers/index.js';
export { ipv4Value } from './parsers/util.js';
export { digits } from './chars.js';
export * from './charset.js';
export * from './id.js';
export * from './pipeline.js';
export * from './syslog/framing.js';
export { parseSyslog, type ParseOptions } from './syslog/parse.js';
export * from './syslog/rfc5424.js';
export * from './syslog/rfc3164.js';
export * from './syslog/time.js';
export * from './syslog/normalise.js';
export * from './syslog/processor.js';
export * from './sources/common.js';
export * from './sources/udp.js';
export * from './sources/tcp.js';
export * from './sources/file.js';
export * from './sources/checkpoint.js';
export * from './sources/memory-sink.js';
