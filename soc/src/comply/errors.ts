/**
 * Typed errors of the compliance module (bad data: a malformed CSV, an unknown system).
 * Misuse (wrong argument types) throws TypeError/RangeError instead.
 */

/** Codes → meaning. */
export const COMPLY_ERROR_CODES = {
  SOC_ERR_COMPLY_CSV: 'an asset CSV file lacks a required column or a row has a bad value (the message names the line)',
  SOC_ERR_COMPLY_NOT_FOUND: 'no system or asset with the given id',
  SOC_ERR_COMPLY_REQUEST: 'an API request to the compliance routes has a bad body or parameter (HTTP 400)',
  SOC_ERR_COMPLY_SIGNATURE: 'a report signature is missing, malformed, or does not match the report',
  SOC_ERR_COMPLY_CONFIG: 'an uploaded configuration is too large, not text, for an unknown platform, or its platform cannot be detected',
  SOC_ERR_COMPLY_JUDGEMENT: 'a manual judgement names an unknown item, has a bad status, or an attachment is too large',
} as const;

/** A code of {@link COMPLY_ERROR_CODES}. */
export type ComplyErrorCode = keyof typeof COMPLY_ERROR_CODES;

/**
 * Error of the compliance module.
 * @example try { importAssetsCsv(text) } catch (e) { if (e instanceof ComplyError && e.code === 'SOC_ERR_COMPLY_CSV') … }
 */
export class ComplyError extends Error {
  override readonly name = 'ComplyError';
  constructor(
    readonly code: ComplyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
