/**
 * Reports laid out like an assessment report (被测对象描述, 单项测评结果, 安全问题风险分析, 整改建议,
 * appendices): self-contained HTML (inline CSS and SVG, no external requests) and JSON.
 */
import { sagGrade } from './assets.js';
import type { Assessment, ItemJudgement } from './run.js';

/** Report language: Chinese (default) or English. */
export type ReportLang = 'zh' | 'en';

const T = {
  zh: {
    title: '网络安全等级保护自评估报告',
    titleGm: '商用密码应用安全性自评估报告',
    notice: '本报告为自评估结果，不构成等级测评结论（等级测评结论仅由具备资质的测评机构出具）。',
    object: '一、被测对象描述',
    results: '二、单项测评结果',
    risks: '三、安全问题风险分析',
    fixes: '四、整改建议',
    appendix: '附录 A 资产清单',
    evidence: '附录 B 测评证据',
    sources: '附录 C 条文来源',
    configs: '配置核查结果',
    sourcesNote: '标注“条文为转述”的测评项，其条文未能与公开转载的标准文本核对一致，以所列标准正式文本为准。',
    system: '定级对象', level: '等级', sag: '定级结果（S/A/G）', gmcyScore: '密码应用量化评估得分（自评）', dak: 'D/A/K', generated: '生成时间', overall: '综合符合率', conclusion: '自评结论',
    layer: '层面', clause: '条款', point: '控制点', item: '测评项', result: '结果', objects: '测评对象', summary: '说明',
    id: '编号', type: '类型', name: '名称', hosts: '主机名', ips: '地址', grade: '重要程度',
    none: '未发现不符合项。', highRisk: '高风险', paraphrase: '（条文为转述）',
  },
  en: {
    title: 'Graded Protection Self-Assessment Report',
    titleGm: 'Commercial Cryptography Self-Assessment Report',
    notice: 'This is a self-assessment; it is not an assessment conclusion (only a licensed assessment body issues one).',
    object: '1. Object under assessment',
    results: '2. Results per item',
    risks: '3. Risk analysis',
    fixes: '4. Remediation',
    appendix: 'Appendix A. Assets',
    evidence: 'Appendix B. Evidence',
    sources: 'Appendix C. Sources of the requirement texts',
    configs: 'Configuration checks',
    sourcesNote: 'Items marked “paraphrased” could not be checked against a public reproduction of the standard; the published standard prevails.',
    system: 'System', level: 'Level', sag: 'Grading (S/A/G)', gmcyScore: 'Quantitative score (self-assessed)', dak: 'D/A/K', generated: 'Generated', overall: 'Overall compliance', conclusion: 'Self-assessed conclusion',
    layer: 'Layer', clause: 'Clause', point: 'Control point', item: 'Requirement', result: 'Result', objects: 'Objects', summary: 'Finding',
    id: 'ID', type: 'Type', name: 'Name', hosts: 'Host names', ips: 'Addresses', grade: 'Importance',
    none: 'No non-compliant item found.', highRisk: 'High risk', paraphrase: ' (paraphrased)',
  },
} as const;

const JUDGEMENT_ZH: Record<string, string> = { pass: '符合', partial: '部分符合', fail: '不符合', na: '不适用', manual: '待人工判定' };
const EN_STATUS: Record<string, string> = { pass: 'Compliant', partial: 'Partially compliant', fail: 'Non-compliant', na: 'Not applicable', manual: 'Manual' };

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function judgement(i: ItemJudgement, lang: ReportLang): string {
  return lang === 'zh' ? i.judgement : (EN_STATUS[i.status] ?? i.status);
}

// One horizontal bar per layer; widths are the layer percentage.
function chart(a: Assessment): string {
  const rows = a.layers;
  const h = 28 * rows.length + 10;
  const bars = rows
    .map((l, i) => {
      const y = 5 + i * 28;
      const w = l.percent === null ? 0 : Math.round(l.percent * 3);
      return `<text x="0" y="${y + 16}" font-size="13">${esc(l.layer)}</text><rect x="150" y="${y}" width="300" height="20" fill="#eee"/><rect x="150" y="${y}" width="${w}" height="20" fill="${(l.percent ?? 0) >= 80 ? '#2e7d32' : (l.percent ?? 0) >= 50 ? '#f9a825' : '#c62828'}"/><text x="460" y="${y + 16}" font-size="13">${l.percent === null ? '—' : `${l.percent}%`}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="520" height="${h}" role="img">${bars}</svg>`;
}

// The remediation of each failed configuration check bound to the item, once per check.
function fixesOf(i: ItemJudgement): string {
  const fixes = new Map<string, string>();
  for (const f of i.configFindings ?? []) if (f.status === 'fail') fixes.set(f.check, `${f.remediation} (${[...new Set((i.configFindings ?? []).filter((x) => x.check === f.check && x.status === 'fail').map((x) => x.asset))].join(', ')})`);
  return fixes.size ? `<ul>${[...fixes.values()].map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : '';
}

/**
 * Render the HTML report.
 * @example writeFileSync('report.html', renderHtml(assessment, 'zh'));
 */
export function renderHtml(a: Assessment, lang: ReportLang = 'zh'): string {
  const t = T[lang];
  const title = a.standard === 'gmcy' ? t.titleGm : t.title;
  const bad = a.items.filter((i) => i.status === 'fail' || i.status === 'partial');
  const row = (cells: unknown[]): string => `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  const head = (cells: string[]): string => `<tr>${cells.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  return `<!DOCTYPE html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8"><title>${esc(title)} — ${esc(a.system.name)}</title>
<style>body{font-family:"Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Zen Hei",sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;width:100%;margin:1em 0}td,th{border:1px solid #999;padding:4px 6px;font-size:13px;vertical-align:top}th{background:#f0f0f0}.notice{border:2px solid #c62828;padding:.5em}.j{white-space:nowrap}.fail{color:#c62828}.pass{color:#2e7d32}</style></head><body>
<h1>${esc(title)}</h1>
<p class="notice">${esc(t.notice)}</p>
<h2>${esc(t.object)}</h2>
<table>${row([t.system, `${a.system.name} (${a.system.id})`])}${row([t.level, a.level])}${row([t.sag, sagGrade(a.system)])}${a.gmcyScore ? row([t.gmcyScore, a.gmcyScore.overall === null ? '—' : a.gmcyScore.overall]) : ''}${row([t.generated, a.generatedAt])}${row([t.overall, a.overall === null ? '—' : `${a.overall}%`])}${row([t.conclusion, `${a.conclusion.grade ?? '—'} (${a.conclusion.reason})`])}</table>
${chart(a)}
<h2>${esc(t.results)}</h2>
<table>${head([t.layer, t.clause, t.point, t.item, t.objects, t.result, t.summary])}${a.items
    .map((i) => `<tr><td>${esc(i.layer)}</td><td>${esc(i.clause)}</td><td>${esc(i.controlPoint)}</td><td>${esc(i.text)}${i.paraphrase ? esc(t.paraphrase) : ''}${i.algorithm ? ` [${esc(i.algorithm)}]` : ''}</td><td>${esc(i.objects.join(', '))}</td><td class="${i.status} j">${esc(judgement(i, lang))}${i.dak ? `<br>${esc(t.dak)} ${esc([i.dak.d, i.dak.a, i.dak.k].map((x) => (x === 'pass' ? '√' : x === 'fail' ? '×' : '—')).join(''))} = ${esc(i.dak.score)}` : ''}</td><td>${esc(i.summary)}</td></tr>`)
    .join('')}</table>
<h2>${esc(t.risks)}</h2>
${bad.length ? `<ul>${bad.map((i) => `<li>${esc(i.clause)} ${esc(i.controlPoint)}: ${esc(i.summary)}${i.highRisk ? ` — <b>${esc(t.highRisk)}</b>: ${esc(i.highRisk)}` : ''}</li>`).join('')}</ul>` : `<p>${esc(t.none)}</p>`}
<h2>${esc(t.fixes)}</h2>
${bad.length ? `<ul>${bad.map((i) => `<li>${esc(i.clause)}: ${esc(i.text)}${fixesOf(i)}</li>`).join('')}</ul>` : `<p>${esc(t.none)}</p>`}
<h2>${esc(t.appendix)}</h2>
<table>${head([t.id, t.type, t.name, t.hosts, t.ips, t.grade])}${a.assets.map((x) => row([x.id, x.type, x.name, x.hostNames.join('; '), x.ips.join('; '), x.importance ?? 2])).join('')}</table>
<h2>${esc(t.evidence)}</h2>
${(a.checkResults ?? [])
    .map((r) => {
      const bound = a.items.filter((i) => i.checks.includes(r.check)).map((i) => i.clause);
      return `<h3>${esc(r.check)} — ${esc(lang === 'zh' ? (JUDGEMENT_ZH[r.status] ?? r.status) : (EN_STATUS[r.status] ?? r.status))}</h3><p>${esc(r.summary)}${bound.length ? ` (${esc(bound.join(', '))})` : ''}</p><pre>${esc(JSON.stringify(r.evidence, null, 2))}</pre>`;
    })
    .join('\n')}
${(a.configResults ?? []).length ? `<h3>${esc(t.configs)}</h3><table>${head([t.id, t.point, t.result, t.summary])}${(a.configResults ?? []).map((r) => `<tr><td>${esc(r.asset)}</td><td>${esc(r.title)}</td><td class="${r.status} j">${esc(lang === 'zh' ? (JUDGEMENT_ZH[r.status] ?? r.status) : (EN_STATUS[r.status] ?? r.status))}</td><td>${esc(r.fileName)} (SM3 ${esc(r.configSm3.slice(0, 16))}…)${r.status === 'fail' ? ` — ${esc(r.remediation)}` : ''}</td></tr>`).join('')}</table>` : ''}
<h2>${esc(t.sources)}</h2>
<p>${esc(t.sourcesNote)}</p>
<ul>${[...new Map(a.items.map((i) => [i.source, i.sourceUrl ?? ''])).entries()].map(([title, url]) => `<li>${esc(title)}${url ? ` — ${esc(url)}` : ''}</li>`).join('')}</ul>
<p>${esc(a.items.filter((i) => i.paraphrase).length)} / ${esc(a.items.length)}${esc(t.paraphrase)}</p>
</body></html>
`;
}

/** The JSON report: the assessment itself, pretty-printed. */
export function renderJson(a: Assessment): string {
  return `${JSON.stringify(a, null, 2)}\n`;
}

/**
 * The CSV report: one row per item (RFC 4180 quoting), UTF-8 with a BOM so spreadsheet programs
 * read the Chinese text correctly.
 * @example writeFileSync('report.csv', renderCsv(assessment));
 */
export function renderCsv(a: Assessment): string {
  const q = (v: unknown): string => {
    const s = String(v ?? '');
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const rows = [['control', 'clause', 'layer', 'control_point', 'status', 'judgement', 'objects', 'summary', 'paraphrase', 'source_url']];
  for (const i of a.items) rows.push([i.controlId, i.clause, i.layer, i.controlPoint, i.status, i.judgement, i.objects.join(';'), i.summary, String(i.paraphrase), i.sourceUrl ?? '']);
  return `\ufeff${rows.map((r) => r.map(q).join(',')).join('\r\n')}\r\n`;
}
