/**
 * Writes the user-facing error table (uni_modules/vk-uni-pay/docs/errors.md) from core/errors.ts,
 * so the documentation can never drift from the code (test/unit/docs.test.ts checks it).
 * Usage: tsx tools/gen-error-table.ts
 */
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import { ERRORS } from '../uni_modules/vk-uni-pay/server/core/errors';

export const ERROR_TABLE_FILE = path.resolve(__dirname, '../uni_modules/vk-uni-pay/docs/errors.md');

export function renderErrorTable(): string {
  const rows = Object.entries(ERRORS)
    .sort(([, a], [, b]) => a[0] - b[0])
    .map(([key, [code, zh, en]]) => `| ${code} | \`${key}\` | ${zh.replace(/\|/g, '\\|')} | ${en.replace(/\|/g, '\\|')} |`);
  return [
    '# 错误码 / Error codes',
    '',
    '公共模块 `vk-uni-pay` 返回 `{ code, msg, msg_en }`（`code` 为 0 表示成功）；云对象 `vk-pay` 按 uniCloud 响应体规范返回 `{ errCode, errMsg, errSubject: "vk-pay" }`，`errMsg` 随客户端语言（zh-Hans / en）。`{…}` 为运行时填入的值。',
    '',
    'The common module returns `{ code, msg, msg_en }` (`code` 0 = success); the `vk-pay` cloud object follows uniCloud\'s response spec `{ errCode, errMsg, errSubject: "vk-pay" }` in the client\'s language.',
    '',
    '> 本文件由 `npx tsx tools/gen-error-table.ts` 根据 `server/core/errors.ts` 生成，请勿手改。 / Generated from `server/core/errors.ts`; do not edit by hand.',
    '',
    '| code | key | 说明（zh-Hans） | Meaning (en) |',
    '|---|---|---|---|',
    ...rows,
    '',
    '另：`queryPayment` 在订单未支付时返回 `code: -1`（公共模块）；云对象的 `queryPayment` 此时返回 `errCode: 0, orderPaid: false`，便于客户端轮询。',
    '',
    "Also: the common module's `queryPayment` returns `code: -1` for an unpaid order; the cloud object returns `errCode: 0, orderPaid: false` instead, so clients can poll without exceptions.",
    '',
  ].join('\n');
}

if (require.main === module) {
  writeFileSync(ERROR_TABLE_FILE, renderErrorTable());
  console.log(`wrote ${path.relative(process.cwd(), ERROR_TABLE_FILE)}`);
}
