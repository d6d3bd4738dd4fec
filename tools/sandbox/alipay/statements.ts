/**
 * Alipay sandbox statements: `alipay.data.dataservice.bill.downloadurl.query` (bill_type `trade`)
 * answers with `bill_download_url`, valid 30 s; `GET /downloadBillFile.resource?…&token=` returns a
 * zip holding `<pid>0156_<yyyyMMdd>_业务明细.csv` and `…_业务明细(汇总).csv`, GBK, CRLF, with `#`
 * comment lines around the table (title, account, period, section rules, the 交易合计/退款合计 totals,
 * export time), fields padded with a tab as Alipay's are, refunds as negative amounts with the
 * out_request_no in 退款批次号/请求号. Generated from the sandbox's trades (payments by payment
 * time, refunds by refund time, Beijing days). A day with nothing recorded: `isp.bill_not_exist`.
 */
import { randomBytes } from 'node:crypto';
import { writeZip } from '../../zip';
import { beijingDay, beijingText, encodeGbk, newStatementTweaks, tweakedLines, yuan, type StatementLine } from '../statements';
import type { AlipaySandboxApp, AlipayState } from './state';

const DETAIL_HEADER =
  '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注';
const SUMMARY_HEADER =
  '门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）';
const RULE = '-----------------------------------------';

/** the statement's account: the app's merchant id (2088…) followed by 0156, as Alipay names the files */
const account = (appId: string) => `2088${appId.replace(/\D/g, '').padEnd(12, '0').slice(-12)}0156`;
const cn = (ms: number) => beijingText(ms).replace(/^(\d{4})-(\d{2})-(\d{2})/, '$1年$2月$3日');
const fee = (fen: number) => Math.round(fen * 0.006);

export function alipayStatements(state: AlipayState) {
  const tweaks = newStatementTweaks();
  const downloads = new Map<string, { zip: Buffer; expires: number }>();

  function recorded(appId: string): StatementLine[] {
    const lines: StatementLine[] = [];
    for (const o of state.orders.values()) {
      if (o.app_id !== appId || o.gmt_payment === undefined) continue;
      const base = { out_trade_no: o.out_trade_no, transaction_id: o.trade_no, total: o.total_fen, subject: o.subject };
      lines.push({ kind: 'payment', ...base, amount: o.total_fen, time: o.gmt_payment });
      for (const r of o.refunds) lines.push({ kind: 'refund', ...base, out_refund_no: r.out_request_no, amount: r.fen, time: r.at });
    }
    return lines;
  }

  function files(appId: string, billDate: string, day: { start: number; end: number }, lines: StatementLine[]) {
    const acct = account(appId);
    const head = (title: string) => [
      `#支付宝${title}查询`,
      `#账号：[${acct}]`,
      `#起始日期：[${cn(day.start)}]   终止日期：[${cn(day.end)}]`,
      `#${RULE}${title}列表${RULE}`,
    ];
    const rows = lines.map((l) => {
      const pay = l.kind === 'payment';
      const amount = yuan(pay ? l.amount : -l.amount);
      const f = yuan(pay ? -fee(l.amount) : fee(l.amount));
      return [
        `${l.transaction_id}\t`,
        `${l.out_trade_no}\t`,
        pay ? '交易' : '退款',
        l.subject.replace(/,/g, '，'),
        beijingText(l.time),
        beijingText(l.time),
        '',
        '',
        '',
        '',
        'sbx***@alipay.test',
        amount,
        amount,
        '0.00',
        '0.00',
        '0.00',
        '0.00',
        '0.00',
        '',
        '0.00',
        '0.00',
        pay ? '\t' : `${l.out_refund_no ?? ''}\t`,
        f,
        '0.00',
        '',
      ].join(',');
    });
    const pays = lines.filter((l) => l.kind === 'payment');
    const refunds = lines.filter((l) => l.kind === 'refund');
    const sum = (ls: StatementLine[]) => ls.reduce((a, l) => a + l.amount, 0);
    const exported = `#导出时间：[${cn(state.now())}]`;
    const detail = [
      ...head('业务明细'),
      DETAIL_HEADER,
      ...rows,
      `#${RULE}业务明细列表结束${RULE}`,
      `#交易合计：${pays.length}笔，商家实收共${yuan(sum(pays))}元，商家优惠共0.00元`,
      `#退款合计：${refunds.length}笔，商家实收退款共${yuan(-sum(refunds))}元，商家优惠退款共0.00元`,
      exported,
    ];
    const net = sum(pays) - sum(refunds);
    const summary = [
      ...head('业务汇总'),
      SUMMARY_HEADER,
      [
        '合计',
        '',
        pays.length,
        refunds.length,
        yuan(net),
        yuan(net),
        '0.00',
        '0.00',
        '0.00',
        yuan(-fee(net)),
        '0.00',
        yuan(net - fee(net)),
      ].join(','),
      `#${RULE}业务汇总列表结束${RULE}`,
      exported,
    ];
    const ymd = billDate.replace(/-/g, '');
    const entry = (name: string, text: string[]) => ({ name, rawName: encodeGbk(name), data: encodeGbk(text.join('\r\n') + '\r\n') });
    return writeZip([entry(`${acct}_${ymd}_业务明细.csv`, detail), entry(`${acct}_${ymd}_业务明细(汇总).csv`, summary)]);
  }

  /** the gateway method: a fresh download URL, or the refusal */
  function query(app: AlipaySandboxApp, biz: Record<string, any>): Record<string, unknown> {
    const fail = (code: string, msg: string, sub_code: string, sub_msg: string) => ({ code, msg, sub_code, sub_msg });
    if (!biz.bill_type) return fail('40001', 'Missing Required Arguments', 'isv.missing-bill-type', '缺少必选参数 bill_type');
    if (biz.bill_type !== 'trade') return fail('40004', 'Business Failed', 'isv.invalid-bill-type', '沙箱仅提供 trade 账单');
    const day = beijingDay(biz.bill_date);
    if (!day || day.start > state.now()) return fail('40004', 'Business Failed', 'isv.invalid-bill-date', '账单日期不合法');
    const lines = tweakedLines(recorded(app.appId), tweaks, day);
    if (!lines.length) return fail('40004', 'Business Failed', 'isp.bill_not_exist', '账单不存在');
    const token = randomBytes(16).toString('hex');
    downloads.set(token, { zip: files(app.appId, biz.bill_date, day, lines), expires: state.now() + 30_000 });
    const ymd = String(biz.bill_date).replace(/-/g, '');
    const name = `${account(app.appId)}_${ymd}.csv.zip`;
    return {
      code: '10000',
      msg: 'Success',
      bill_download_url: `${state.baseUrl}/downloadBillFile.resource?bizType=trade&userId=${account(app.appId)}&fileType=csv.zip&bizDates=${ymd}&downloadFileName=${name}&timestamp=${state.now()}&token=${token}`,
    };
  }

  /** GET /downloadBillFile.resource: the zip, or Alipay's page for an expired link */
  function download(query: Record<string, string>): { status: number; headers: Record<string, string>; body: Buffer | string } {
    const d = downloads.get(query.token ?? '');
    if (!d || d.expires < state.now())
      return {
        status: 200,
        headers: { 'content-type': 'text/html; charset=GBK' },
        body: encodeGbk('<html><body>下载超时，请重新下载</body></html>'),
      };
    return { status: 200, headers: { 'content-type': 'application/oct-stream', 'content-length': String(d.zip.length) }, body: d.zip };
  }

  return { tweaks, query, download };
}

export type AlipayStatements = ReturnType<typeof alipayStatements>;
