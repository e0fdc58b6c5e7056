/**
 * Compliance self-assessment (GB/T 22239-2019 等级保护, GB/T 39786-2021 商用密码应用): systems and
 * assets, automated checks over the SOC's evidence, scoring, signed HTML/JSON reports.
 * See soc/README.md "Compliance".
 * @packageDocumentation
 */
export { ComplyError, COMPLY_ERROR_CODES, type ComplyErrorCode } from './errors.js';
export { ASSET_TYPES, sagGrade, loadInventory, saveInventory, upsertSystem, upsertAsset, importAssetsCsv, inventoryPath, type Asset, type AssetType, type ComplySystem, type Inventory } from './assets.js';
export { runChecks, RETENTION_MIN_DAYS, type CheckContext, type CheckResult, type Evidence } from './checks.js';
export { uploadConfig, listConfigs, evaluateStoredConfigs, MAX_CONFIG_BYTES, type StoredConfig, type AssetConfigResult } from './configs.js';
export { recordJudgement, listJudgements, attachmentPath, MAX_ATTACHMENT_BYTES, JUDGEMENT_STATUSES, type Judgement, type Attachment } from './judgements.js';
export { runAssessment, type Assessment, type ItemJudgement, type RunOptions } from './run.js';
export { renderHtml, renderJson, renderCsv, type ReportLang } from './report.js';
export { signReport, signReportFile, verifyReportFile, assertReportSigned, type ReportVerification } from './sign.js';
export { writeReports, renderReport, reportFileName, REPORT_FORMATS, type ReportFormat, type WriteReportsOptions } from './write.js';
export { complyRoutes, type ComplyRoutesOptions } from './routes.js';
export { assetStatus, SENDER_FACETS, type AssetStatus, type AssetStatusReport } from './discovery.js';
export { renderPdf, CHROMIUM_PATH } from './pdf.js';
