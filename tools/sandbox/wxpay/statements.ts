/**
 * WeChat Pay sandbox statements (API v3): `GET /v3/bill/tradebill` and `/v3/bill/fundflowbill`
 * answer (signed, like every v3 answer) with `download_url` + `hash_type: SHA1` + `hash_value` of
 * the uncompressed file; `GET /v3/billdownload/file?token=` (a signed request) returns the file
 * itself, unsigned, gzipped when `tar_type=GZIP` was asked. Files are generated from what the
 * sandbox recorded (payments by success time, refunds by acceptance time, Beijing days) in WeChat's
 * layout: UTF-8 with BOM, CRLF, a header line, every detail field prefixed with a backquote, then
 * the summary header and row. A day with nothing recorded answers 400 NO_STATEMENT_EXIST.
 * `tweaks` lets a test make the file disagree (omit, extra rows, other amounts, a corrupt file).
 */
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { beijingDay, beijingText, newStatementTweaks, tweakedLines, yuan, type StatementLine } from '../statements';
import type { WxpayState } from './state';

const TRADE_HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
const TRADE_SUMMARY = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';
const FUND_HEADER =
  '记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号';
const FUND_SUMMARY = '资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额';

const bq = (cells: (string | number)[]) => cells.map((c) => '`' + String(c).replace(/,/g, '，')).join(',');
const file = (lines: string[]) => Buffer.from('\uFEFF' + lines.join('\r\n') + '\r\n', 'utf8');

/** 0.6% fee, rounded to the fen */
const fee = (fen: number) => Math.round(fen * 0.006);

interface Download {
  bytes: Buffer;
  mchid: string;
  expires: number;
}

export function wxpayStatements(state: WxpayState) {
  const tweaks = newStatementTweaks();
  const downloads = new Map<string, Download>();

  function recorded(mchid: string): StatementLine[] {
    const lines: StatementLine[] = [];
    for (const o of state.orders.values()) {
      if (o.mchid !== mchid || o.success_time === undefined || !o.transaction_id) continue;
      const base = { out_trade_no: o.out_trade_no, transaction_id: o.transaction_id, total: o.total, subject: o.description };
      lines.push({ kind: 'payment', ...base, amount: o.total, time: o.success_time });
    }
    for (const r of state.refunds.values()) {
      if (r.mchid !== mchid) continue;
      const o = state.findOrder(r.out_trade_no, mchid);
      lines.push({
        kind: 'refund',
        out_trade_no: r.out_trade_no,
        out_refund_no: r.out_refund_no,
        transaction_id: r.transaction_id,
        refund_id: r.refund_id,
        amount: r.refund,
        total: r.total,
        time: r.create_time,
        subject: o?.description ?? '',
      });
    }
    return lines;
  }

  function tradeBill(mchid: string, lines: StatementLine[]): Buffer {
    const appid = state.merchantOf(mchid).m.appids[0];
    const rows = lines.map((l) => {
      const pay = l.kind === 'payment';
      return bq([
        beijingText(l.time),
        appid,
        mchid,
        0,
        '',
        l.transaction_id,
        l.out_trade_no,
        'o' + createHash('md5').update(l.out_trade_no).digest('hex').slice(0, 27),
        'JSAPI',
        pay ? 'SUCCESS' : 'REFUND',
        'OTHERS',
        'CNY',
        yuan(pay ? l.amount : 0),
        '0.00',
        pay ? 0 : (l.refund_id ?? ''),
        pay ? 0 : (l.out_refund_no ?? ''),
        yuan(pay ? 0 : l.amount),
        '0.00',
        pay ? '' : 'ORIGINAL',
        pay ? '' : 'SUCCESS',
        l.subject,
        '',
        yuan(pay ? fee(l.amount) : -fee(l.amount)),
        '0.60%',
        yuan(l.total),
        yuan(pay ? 0 : l.amount),
        '',
      ]);
    });
    const pays = lines.filter((l) => l.kind === 'payment');
    const refunds = lines.filter((l) => l.kind === 'refund');
    const sum = (ls: StatementLine[]) => ls.reduce((a, l) => a + l.amount, 0);
    const fees = sum(pays.map((l) => ({ ...l, amount: fee(l.amount) }))) - sum(refunds.map((l) => ({ ...l, amount: fee(l.amount) })));
    return file([
      TRADE_HEADER,
      ...rows,
      TRADE_SUMMARY,
      bq([lines.length, yuan(sum(pays)), yuan(sum(refunds)), '0.00', yuan(fees), yuan(sum(pays)), yuan(sum(refunds))]),
    ]);
  }

  function fundFlowBill(lines: StatementLine[]): Buffer {
    let balance = 0;
    const rows = lines.map((l, i) => {
      const income = l.kind === 'payment';
      balance += income ? l.amount : -l.amount;
      return bq([
        beijingText(l.time),
        income ? l.transaction_id : (l.refund_id ?? ''),
        `${l.time}${String(i).padStart(6, '0')}`,
        income ? '交易' : '退款',
        income ? '交易' : '退款',
        income ? '收入' : '支出',
        yuan(l.amount),
        yuan(balance),
        'system',
        '',
        income ? l.out_trade_no : (l.out_refund_no ?? ''),
      ]);
    });
    const inc = lines.filter((l) => l.kind === 'payment');
    const out = lines.filter((l) => l.kind === 'refund');
    const sum = (ls: StatementLine[]) => yuan(ls.reduce((a, l) => a + l.amount, 0));
    return file([FUND_HEADER, ...rows, FUND_SUMMARY, bq([lines.length, inc.length, sum(inc), out.length, sum(out)])]);
  }

  type V3Answer = { status: number; body?: unknown; raw?: Buffer };
  const err = (status: number, code: string, message: string): V3Answer => ({ status, body: { code, message } });

  /** GET /v3/bill/tradebill | /v3/bill/fundflowbill */
  function apply(kind: 'trade' | 'fundflow', mchid: string, query: URLSearchParams): V3Answer {
    const billDate = query.get('bill_date');
    const day = beijingDay(billDate);
    if (!day) return err(400, 'PARAM_ERROR', '账单日期格式不正确，应为yyyy-MM-dd');
    if (day.start > state.now()) return err(400, 'PARAM_ERROR', '账单日期不能晚于今天');
    const tar = query.get('tar_type');
    if (tar !== null && tar !== 'GZIP') return err(400, 'PARAM_ERROR', 'tar_type 仅支持 GZIP');
    if (kind === 'trade' && (query.get('bill_type') ?? 'ALL') !== 'ALL') return err(400, 'PARAM_ERROR', '沙箱仅提供 ALL 类型交易账单');
    const own = recorded(mchid).filter((l) => l.time >= day.start && l.time < day.end);
    const lines = kind === 'trade' ? tweakedLines(recorded(mchid), tweaks, day) : own;
    if (!lines.length) return err(400, 'NO_STATEMENT_EXIST', '账单文件不存在');
    const content = kind === 'trade' ? tradeBill(mchid, lines) : fundFlowBill(lines);
    const hash = createHash('sha1').update(content).digest('hex');
    const served = tweaks.corruptFile ? Buffer.concat([content, Buffer.from('`tampered\r\n')]) : content;
    const token = randomBytes(16).toString('hex');
    downloads.set(token, { bytes: tar === 'GZIP' ? gzipSync(served) : served, mchid, expires: state.now() + 5 * 60_000 });
    return {
      status: 200,
      body: { hash_type: 'SHA1', hash_value: hash, download_url: `${state.baseUrl}/v3/billdownload/file?token=${token}` },
    };
  }

  /** GET /v3/billdownload/file?token= (the request is signed by the merchant; the file is not) */
  function download(mchid: string, query: URLSearchParams): V3Answer {
    const d = downloads.get(query.get('token') ?? '');
    if (!d || d.mchid !== mchid || d.expires < state.now()) return err(400, 'INVALID_REQUEST', '下载链接无效或已过期');
    return { status: 200, raw: d.bytes };
  }

  return { tweaks, apply, download };
}

export type WxpayStatements = ReturnType<typeof wxpayStatements>;
