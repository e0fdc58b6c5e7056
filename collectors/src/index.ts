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
