/**
 * Baseline normaliser: maps the syslog fields of a parsed message to ECS
 * (`log.syslog.*`, `host.hostname`, `process.*`, `message`, `event.original`) without
 * vendor knowledge. The vendor-aware normaliser in `parsers/` builds on the same output;
 * this one is the fallback so that every message is stored, parsed or not.
 */
import type { EcsEvent, SourceContext, SyslogMessage } from '../types.js';
import { syslogEvent } from './event.js';

export { FACILITY_NAMES, SEVERITY_NAMES } from './event.js';

/**
 * Maps a parsed syslog message to a baseline ECS event. Pure.
 *
 * @example
 * const ev = baselineNormalise(parseSyslog(bytes, opts), ctx);
 * ev.log?.syslog?.severity?.name; // 'err'
 */
export function baselineNormalise(m: SyslogMessage, ctx: SourceContext): EcsEvent {
  return syslogEvent(m, ctx, true);
}
