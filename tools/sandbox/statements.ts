/**
 * What the WeChat Pay and Alipay sandboxes share for statements (对账单): the test's knobs that make
 * a statement disagree with what the sandbox recorded, the day window, and GBK encoding (Alipay's
 * files are GBK; Node decodes GBK but has no encoder, so the table is built from the decoder once).
 */

/** One statement line the sandbox prints: a payment or a refund it recorded (or a test added). */
export interface StatementLine {
  kind: 'payment' | 'refund';
  out_trade_no: string;
  out_refund_no?: string;
  transaction_id: string;
  refund_id?: string;
  /** fen */
  amount: number;
  /** the order's amount (fen) */
  total: number;
  /** ms */
  time: number;
  subject: string;
}

export interface StatementTweaks {
  /** out_trade_no (payments) or out_refund_no (refunds) left out of the statement: money here, not there */
  omit: Set<string>;
  /** rows the sandbox never recorded: money there, not here */
  extra: Array<{ kind?: 'payment' | 'refund'; out_trade_no: string; out_refund_no?: string; amount: number; time?: number }>;
  /** the amount printed instead of the recorded one, by out_trade_no / out_refund_no */
  amounts: Map<string, number>;
  /** WeChat: serve a file whose bytes differ from the announced digest */
  corruptFile: boolean;
}

export function newStatementTweaks(): StatementTweaks {
  return { omit: new Set(), extra: [], amounts: new Map(), corruptFile: false };
}

const SHANGHAI_MS = 8 * 3600_000;

/** `yyyy-MM-dd` → [start, end) ms of that Beijing day, or undefined when malformed */
export function beijingDay(billDate: unknown): { start: number; end: number } | undefined {
  const m = typeof billDate === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(billDate) : null;
  if (!m) return undefined;
  const start = Date.UTC(+m[1], +m[2] - 1, +m[3]) - SHANGHAI_MS;
  return Number.isNaN(start) ? undefined : { start, end: start + 24 * 3600_000 };
}

/** `yyyy-MM-dd HH:mm:ss` in Beijing time */
export function beijingText(ms: number): string {
  return new Date(ms + SHANGHAI_MS).toISOString().slice(0, 19).replace('T', ' ');
}

export function yuan(fen: number): string {
  const s = String(Math.abs(fen)).padStart(3, '0');
  return `${fen < 0 ? '-' : ''}${s.slice(0, -2)}.${s.slice(-2)}`;
}

/** The recorded lines of a day, with the test's tweaks applied (extra rows get made-up provider ids). */
export function tweakedLines(recorded: StatementLine[], tweaks: StatementTweaks, day: { start: number; end: number }): StatementLine[] {
  const inDay = recorded.filter((l) => l.time >= day.start && l.time < day.end);
  const lines = inDay
    .filter((l) => !tweaks.omit.has(l.kind === 'payment' ? l.out_trade_no : (l.out_refund_no ?? '')))
    .map((l) => {
      const amount = tweaks.amounts.get(l.kind === 'payment' ? l.out_trade_no : (l.out_refund_no ?? ''));
      return amount === undefined ? l : { ...l, amount, total: l.kind === 'payment' ? amount : l.total };
    });
  for (const [i, x] of tweaks.extra.entries()) {
    const time = x.time ?? day.start + 12 * 3600_000;
    if (time < day.start || time >= day.end) continue;
    lines.push({
      kind: x.kind ?? 'payment',
      out_trade_no: x.out_trade_no,
      out_refund_no: x.out_refund_no,
      transaction_id: `EXTRA${String(day.start)}${i}`,
      refund_id: x.kind === 'refund' ? `EXTRAREFUND${i}` : undefined,
      amount: x.amount,
      total: x.amount,
      time,
      subject: 'sandbox extra',
    });
  }
  return lines.sort((a, b) => a.time - b.time);
}

let gbkTable: Map<string, Buffer> | undefined;

/** UTF-16 text → GBK bytes (characters outside GBK become `?`). */
export function encodeGbk(text: string): Buffer {
  if (!gbkTable) {
    gbkTable = new Map();
    const dec = new TextDecoder('gbk', { fatal: true });
    for (let lead = 0x81; lead <= 0xfe; lead++)
      for (let trail = 0x40; trail <= 0xfe; trail++) {
        if (trail === 0x7f) continue;
        const bytes = Buffer.from([lead, trail]);
        try {
          const ch = dec.decode(bytes);
          if (ch.length === 1 && !gbkTable.has(ch)) gbkTable.set(ch, bytes);
        } catch {
          // not a GBK code
        }
      }
  }
  const parts: Buffer[] = [];
  for (const ch of text) parts.push(ch.charCodeAt(0) < 0x80 ? Buffer.from(ch, 'latin1') : (gbkTable.get(ch) ?? Buffer.from('?')));
  return Buffer.concat(parts);
}
