/**
 * Classic uniCloud database API (`uniCloud.database()`) on SQLite (better-sqlite3) + mingo.
 * One table per collection (`_id TEXT PRIMARY KEY, doc TEXT` JSON). Several processes may share
 * one file: WAL + busy_timeout, read-then-write operations inside BEGIN IMMEDIATE, unique indexes
 * from `<coll>.index.json` as SQLite unique expression indexes.
 */
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';
import BetterSqlite3 from 'better-sqlite3';
import { Query, find as mingoFind, update as mingoUpdate } from 'mingo';
import type {
  AddManyResult,
  AddResult,
  CountResult,
  Database,
  DbCollection,
  DbCommand,
  DbCommandValue,
  DbDoc,
  DbQuery,
  GetResult,
  RemoveResult,
  UpdateAndReturnResult,
  UpdateResult,
} from '../../types/unicloud-server';

type AnyObj = Record<string, any>;

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

// ------------------------------------------------------------------ realm-safe type checks
// Cloud code may be loaded in another V8 realm (jest), so never rely on instanceof.
const tag = (v: unknown) => Object.prototype.toString.call(v);
const isDate = (v: unknown): v is Date => tag(v) === '[object Date]';
const isRegExp = (v: unknown): v is RegExp => tag(v) === '[object RegExp]';
const isBuffer = (v: unknown) => !!v && typeof v === 'object' && Buffer.isBuffer(v);

// ------------------------------------------------------------------ db.command
const CMD = Symbol.for('local-unicloud.dbCommand');

class Cmd implements DbCommandValue {
  readonly __dbCommand = true as const;
  readonly [CMD] = true;
  constructor(
    readonly op: string,
    readonly args: unknown[],
  ) {}
  // chained forms: dbCmd.gt(1).lt(5) == and; .or(...) == or
  and(...conds: unknown[]): Cmd {
    return new Cmd('and', [this, ...flatArgs(conds)]);
  }
  or(...conds: unknown[]): Cmd {
    return new Cmd('or', [this, ...flatArgs(conds)]);
  }
  eq(v: unknown) {
    return this.and(new Cmd('eq', [v]));
  }
  neq(v: unknown) {
    return this.and(new Cmd('neq', [v]));
  }
  gt(v: unknown) {
    return this.and(new Cmd('gt', [v]));
  }
  gte(v: unknown) {
    return this.and(new Cmd('gte', [v]));
  }
  lt(v: unknown) {
    return this.and(new Cmd('lt', [v]));
  }
  lte(v: unknown) {
    return this.and(new Cmd('lte', [v]));
  }
  in(v: unknown[]) {
    return this.and(new Cmd('in', [v]));
  }
  nin(v: unknown[]) {
    return this.and(new Cmd('nin', [v]));
  }
}

function isCmd(v: unknown): v is Cmd {
  return !!v && typeof v === 'object' && (v as any)[CMD] === true;
}

function flatArgs(conds: unknown[]): unknown[] {
  return conds.length === 1 && Array.isArray(conds[0]) ? (conds[0] as unknown[]) : conds;
}

export function createCommand(): DbCommand & AnyObj {
  const c =
    (op: string) =>
    (...args: unknown[]) =>
      new Cmd(op, args);
  return {
    eq: c('eq'),
    neq: c('neq'),
    gt: c('gt'),
    gte: c('gte'),
    lt: c('lt'),
    lte: c('lte'),
    in: c('in'),
    nin: c('nin'),
    exists: c('exists'),
    mod: c('mod'),
    size: c('size'),
    all: c('all'),
    elemMatch: c('elemMatch'),
    and: (...a: unknown[]) => new Cmd('and', flatArgs(a)),
    or: (...a: unknown[]) => new Cmd('or', flatArgs(a)),
    nor: (...a: unknown[]) => new Cmd('nor', flatArgs(a)),
    not: c('not'),
    // update commands
    inc: c('inc'),
    mul: c('mul'),
    min: c('min'),
    max: c('max'),
    rename: c('rename'),
    push: c('push'),
    unshift: c('unshift'),
    pop: () => new Cmd('pop', []),
    shift: () => new Cmd('shift', []),
    pull: c('pull'),
    pullAll: c('pullAll'),
    addToSet: c('addToSet'),
    set: c('set'),
    remove: () => new Cmd('remove', []),
  } as DbCommand & AnyObj;
}

// ------------------------------------------------------------------ value normalisation
/** Deep-copies a value into this realm (plain objects, arrays, Date, RegExp, Buffer, commands). */
function norm(v: unknown): any {
  if (v === null || typeof v !== 'object') return v;
  if (isCmd(v)) return new Cmd(v.op, v.args.map(norm));
  if (isDate(v)) return new Date((v as Date).getTime());
  if (isRegExp(v)) return new RegExp((v as RegExp).source, (v as RegExp).flags);
  if (isBuffer(v)) return Buffer.from(v as Buffer);
  if (Array.isArray(v)) return v.map(norm);
  const out: AnyObj = {};
  for (const k of Object.keys(v)) {
    const x = (v as AnyObj)[k];
    if (x !== undefined) out[k] = norm(x);
  }
  return out;
}

const isPlainObj = (v: unknown): v is AnyObj =>
  !!v && typeof v === 'object' && !Array.isArray(v) && !isCmd(v) && !isDate(v) && !isRegExp(v) && !isBuffer(v);

// ------------------------------------------------------------------ where → Mongo query
function toMongoQuery(where: unknown): AnyObj {
  if (where == null) return {};
  if (isCmd(where)) return topLevelCmd(where);
  if (!isPlainObj(where)) throw new Error('where() expects an object or a db.command expression');
  const parts: AnyObj[] = [];
  flattenWhere(where, '', parts);
  if (parts.length === 0) return {};
  if (parts.length === 1) return parts[0];
  return { $and: parts };
}

function topLevelCmd(c: Cmd): AnyObj {
  const map: AnyObj = { and: '$and', or: '$or', nor: '$nor' };
  if (!map[c.op]) throw new Error(`db.command.${c.op} cannot be used as a whole query`);
  return { [map[c.op]]: c.args.map((a) => toMongoQuery(a)) };
}

function flattenWhere(obj: AnyObj, prefix: string, out: AnyObj[]) {
  for (const k of Object.keys(obj)) {
    const p = prefix ? `${prefix}.${k}` : k;
    const v = obj[k];
    if (isCmd(v)) out.push(fieldCmd(p, v));
    else if (isPlainObj(v) && Object.keys(v).length > 0) flattenWhere(v, p, out);
    else out.push({ [p]: v });
  }
}

function fieldCmd(p: string, c: Cmd): AnyObj {
  const a = c.args[0];
  switch (c.op) {
    case 'eq':
      return { [p]: { $eq: a } };
    case 'neq':
      return { [p]: { $ne: a } };
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
    case 'in':
    case 'nin':
    case 'all':
    case 'size':
    case 'mod':
      return { [p]: { [`$${c.op}`]: c.op === 'mod' && c.args.length > 1 ? c.args : a } };
    case 'exists':
      return { [p]: { $exists: a !== false } };
    case 'elemMatch':
      return { [p]: { $elemMatch: toMongoQuery(a) } };
    case 'and':
    case 'or':
    case 'nor':
      return { [`$${c.op}`]: c.args.map((x) => (isCmd(x) ? fieldCmd(p, x) : condOnField(p, x))) };
    case 'not': {
      const inner = isCmd(a) ? fieldCmd(p, a) : condOnField(p, a);
      return { $nor: [inner] };
    }
    default:
      throw new Error(`db.command.${c.op} is not a query command`);
  }
}

function condOnField(p: string, v: unknown): AnyObj {
  if (isPlainObj(v)) {
    const parts: AnyObj[] = [];
    flattenWhere(v, p, parts);
    return parts.length === 1 ? parts[0] : { $and: parts };
  }
  return { [p]: v };
}

/**
 * Top-level simple string/number equalities that can pre-filter rows in SQL (superset-safe). A key
 * with a unique index is compared in the index's own expression (plus its json_type index for the
 * array case), so SQLite looks it up instead of scanning the collection.
 */
function sqlPrefilter(where: unknown, indexed: ReadonlySet<string> = new Set()): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (!isPlainObj(where)) return { sql: '', params };
  for (const k of Object.keys(where)) {
    let v = where[k];
    if (isCmd(v) && v.op === 'eq') v = v.args[0];
    if (typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) continue;
    if (k === '_id') {
      clauses.push('_id = ?');
      params.push(String(v));
    } else if (indexed.has(k)) {
      clauses.push(`(coalesce(json_extract(doc, ${jsonPath(k)}), x'00') = ? OR json_type(doc, ${jsonPath(k)}) = 'array')`);
      params.push(v);
    } else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
      clauses.push(`(json_extract(doc, '$.${k}') = ? OR json_type(doc, '$.${k}') = 'array')`);
      params.push(v);
    }
  }
  return { sql: clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '', params };
}

// ------------------------------------------------------------------ update data → Mongo modifier
function toModifier(data: unknown): AnyObj {
  if (!isPlainObj(data)) throw new Error('update() expects an object');
  const mod: AnyObj = {};
  const add = (op: string, p: string, v: unknown) => {
    (mod[op] ||= {})[p] = v;
  };
  const walk = (obj: AnyObj, prefix: string) => {
    for (const k of Object.keys(obj)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (p === '_id') continue;
      const v = obj[k];
      if (isCmd(v)) {
        const a = v.args[0];
        switch (v.op) {
          case 'set':
            add('$set', p, a);
            break;
          case 'remove':
            add('$unset', p, '');
            break;
          case 'inc':
            add('$inc', p, a);
            break;
          case 'mul':
            add('$mul', p, a);
            break;
          case 'min':
            add('$min', p, a);
            break;
          case 'max':
            add('$max', p, a);
            break;
          case 'rename':
            add('$rename', p, a);
            break;
          case 'push':
            if (isPlainObj(a) && ('each' in a || '$each' in a)) {
              const spec: AnyObj = { $each: a.each ?? a.$each };
              for (const o of ['position', 'sort', 'slice']) if (a[o] !== undefined) spec[`$${o}`] = a[o];
              add('$push', p, spec);
            } else add('$push', p, { $each: Array.isArray(a) ? a : v.args });
            break;
          case 'unshift':
            add('$push', p, { $each: Array.isArray(a) ? a : v.args, $position: 0 });
            break;
          case 'pop':
            add('$pop', p, 1);
            break;
          case 'shift':
            add('$pop', p, -1);
            break;
          case 'pull':
            add('$pull', p, isCmd(a) ? fieldCmd('x', a).x : isPlainObj(a) ? toMongoQuery(a) : a);
            break;
          case 'pullAll':
            add('$pullAll', p, a);
            break;
          case 'addToSet':
            add('$addToSet', p, isPlainObj(a) && ('$each' in a || 'each' in a) ? { $each: a.$each ?? a.each } : a);
            break;
          default:
            throw new Error(`db.command.${v.op} cannot be used in update()`);
        }
      } else if (isPlainObj(v) && Object.keys(v).length > 0) walk(v, p);
      else add('$set', p, v);
    }
  };
  walk(data, '');
  return mod;
}

// ------------------------------------------------------------------ JSON storage with Date support
function encode(doc: AnyObj): string {
  return JSON.stringify(doc, function (this: AnyObj, key: string, value: unknown) {
    const raw = this[key];
    if (isDate(raw)) return { $date: raw.toISOString() };
    return value;
  });
}

function decode(text: string): AnyObj {
  return JSON.parse(text, (_k, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$date' && typeof v.$date === 'string') return new Date(v.$date);
    }
    return v;
  });
}

// ------------------------------------------------------------------ ids
const ID_RANDOM = crypto.randomBytes(5).toString('hex');
let idCounter = crypto.randomBytes(3).readUIntBE(0, 3) & 0x7fffff;
let lastIdSecond = 0;
/** 24-hex ObjectId-like id: 4-byte seconds, 5 random bytes per process, 3-byte counter (increasing). */
export function newObjectId(): string {
  let sec = Math.floor(Date.now() / 1000);
  if (sec < lastIdSecond) sec = lastIdSecond;
  idCounter = (idCounter + 1) & 0xffffff;
  if (idCounter === 0) sec = lastIdSecond + 1; // counter wrapped: keep ids increasing
  lastIdSecond = sec;
  return sec.toString(16).padStart(8, '0') + ID_RANDOM + idCounter.toString(16).padStart(6, '0');
}

// ------------------------------------------------------------------ index files
export interface IndexSpec {
  IndexName: string;
  MgoKeySchema: { MgoIndexKeys: { Name: string; Direction: string }[]; MgoIsUnique?: boolean; MgoIsSparse?: boolean };
}

function loadIndexDirs(dirs: string[]): Map<string, IndexSpec[]> {
  const out = new Map<string, IndexSpec[]>();
  for (const dir of dirs) {
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) {
      const m = /^(.+)\.index\.json$/.exec(f);
      if (!m) continue;
      const list = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as IndexSpec[];
      if (!Array.isArray(list)) continue;
      out.set(m[1], [...(out.get(m[1]) || []), ...list]);
    }
  }
  return out;
}

const qi = (name: string) => `"${name.replace(/"/g, '""')}"`;
const jsonPath = (field: string) => `'$.${field.replace(/'/g, "''")}'`;
const sqlIndexName = (coll: string, idx: string) => `uidx__${coll}__${idx}`;

export class DuplicateKeyError extends Error {
  code = 11000;
  errCode = 11000;
  constructor(message: string) {
    super(message);
    this.name = 'MongoServerError';
  }
}

// ------------------------------------------------------------------ database
export interface LocalDatabase extends Database {
  close(): void;
  /** the underlying connection (tests, diagnostics) */
  readonly sqlite: BetterSqlite3.Database;
}

interface QueryState {
  where: unknown;
  fields?: AnyObj;
  orders: [string, 1 | -1][];
  skip: number;
  limit?: number;
}

export function createDatabase(opts: { file: string; indexDirs?: string[] }): LocalDatabase {
  fs.mkdirSync(path.dirname(opts.file), { recursive: true });
  const sqlite = new BetterSqlite3(opts.file);
  sqlite.pragma('busy_timeout = 10000');
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  const indexes = loadIndexDirs(opts.indexDirs || []);
  const ready = new Set<string>();
  /** per collection: fields with a unique single-key, non-sparse index (usable by sqlPrefilter) */
  const lookupKeys = new Map<string, Set<string>>();
  const command = createCommand();

  function ensure(coll: string) {
    if (ready.has(coll)) return;
    if (!coll || typeof coll !== 'string') throw new Error('collection name required');
    sqlite.exec(`CREATE TABLE IF NOT EXISTS ${qi(coll)} (_id TEXT PRIMARY KEY, doc TEXT NOT NULL)`);
    for (const spec of indexes.get(coll) || []) {
      const ks = spec.MgoKeySchema;
      if (!ks || !ks.MgoIsUnique) continue;
      const cols = ks.MgoIndexKeys.map((k) => (k.Name === '_id' ? '_id' : `coalesce(json_extract(doc, ${jsonPath(k.Name)}), x'00')`));
      const where = ks.MgoIsSparse
        ? ` WHERE ${ks.MgoIndexKeys.map((k) => `json_type(doc, ${jsonPath(k.Name)}) IS NOT NULL`).join(' AND ')}`
        : '';
      try {
        sqlite.exec(
          `CREATE UNIQUE INDEX IF NOT EXISTS ${qi(sqlIndexName(coll, spec.IndexName))} ON ${qi(coll)} (${cols.join(', ')})${where}`,
        );
      } catch (e) {
        process.stderr.write(`[local-unicloud] cannot create unique index ${coll}.${spec.IndexName}: ${(e as Error).message}\n`);
        continue;
      }
      const key = ks.MgoIndexKeys.length === 1 && !ks.MgoIsSparse ? ks.MgoIndexKeys[0].Name : undefined;
      if (key && key !== '_id') {
        sqlite.exec(
          `CREATE INDEX IF NOT EXISTS ${qi(sqlIndexName(coll, spec.IndexName) + '__type')} ON ${qi(coll)} (json_type(doc, ${jsonPath(key)}))`,
        );
        if (!lookupKeys.has(coll)) lookupKeys.set(coll, new Set());
        lookupKeys.get(coll)!.add(key);
      }
    }
    ready.add(coll);
  }

  function dupError(coll: string, e: any, doc: AnyObj): Error {
    if (e && typeof e.code === 'string' && e.code.startsWith('SQLITE_CONSTRAINT')) {
      const m = /index '([^']+)'/.exec(String(e.message));
      let idxName = '_id_';
      let keys = ['_id'];
      if (m) {
        const spec = (indexes.get(coll) || []).find((s) => sqlIndexName(coll, s.IndexName) === m[1]);
        if (spec) {
          idxName = spec.IndexName;
          keys = spec.MgoKeySchema.MgoIndexKeys.map((k) => k.Name);
        }
      }
      const dup = keys
        .map((k) => {
          const v = k.split('.').reduce<any>((o, p) => (o == null ? undefined : o[p]), doc);
          return `${k}: ${v === undefined ? 'null' : JSON.stringify(v)}`;
        })
        .join(', ');
      return new DuplicateKeyError(`E11000 duplicate key error collection: ${coll} index: ${idxName} dup key: { ${dup} }`);
    }
    return e;
  }

  function candidates(coll: string, where: unknown): AnyObj[] {
    ensure(coll);
    const pre = sqlPrefilter(where, lookupKeys.get(coll));
    const rows = sqlite.prepare(`SELECT doc FROM ${qi(coll)}${pre.sql} ORDER BY rowid`).all(...pre.params) as { doc: string }[];
    return rows.map((r) => decode(r.doc));
  }

  function matching(coll: string, where: unknown): AnyObj[] {
    const q = new Query(toMongoQuery(where), {});
    return candidates(coll, where).filter((d) => q.test(d));
  }

  function insertOne(coll: string, raw: unknown): string {
    if (!isPlainObj(raw)) throw new Error('add() expects an object');
    const doc = norm(raw) as AnyObj;
    const id = doc._id != null ? String(doc._id) : newObjectId();
    const stored = { _id: id, ...doc };
    stored._id = id;
    try {
      sqlite.prepare(`INSERT INTO ${qi(coll)} (_id, doc) VALUES (?, ?)`).run(id, encode(stored));
    } catch (e) {
      throw dupError(coll, e, stored);
    }
    return id;
  }

  function writeDoc(coll: string, doc: AnyObj) {
    try {
      sqlite.prepare(`UPDATE ${qi(coll)} SET doc = ? WHERE _id = ?`).run(encode(doc), doc._id);
    } catch (e) {
      throw dupError(coll, e, doc);
    }
  }

  function applyUpdate(doc: AnyObj, modifier: AnyObj): boolean {
    const changed = mingoUpdate(doc, modifier as any, undefined, undefined, { cloneMode: 'deep' });
    return changed.length > 0;
  }

  function runUpdate(coll: string, where: unknown, data: unknown, onlyFirst: boolean): { updated: number; doc: AnyObj | null } {
    const w = norm(where);
    const modifier = toModifier(norm(data));
    ensure(coll);
    const tx = sqlite.transaction(() => {
      const docs = matching(coll, w);
      const targets = onlyFirst ? docs.slice(0, 1) : docs;
      let updated = 0;
      for (const d of targets) {
        if (Object.keys(modifier).length && applyUpdate(d, modifier)) {
          writeDoc(coll, d);
          updated++;
        }
      }
      return { updated, doc: targets[0] || null };
    });
    return tx.immediate();
  }

  function runGet(coll: string, st: QueryState): AnyObj[] {
    const w = norm(st.where);
    const docs = candidates(coll, w);
    let limit = st.limit ?? DEFAULT_LIMIT;
    if (limit > MAX_LIMIT) limit = MAX_LIMIT;
    let proj: AnyObj | undefined;
    if (st.fields && Object.keys(st.fields).length) {
      proj = {};
      const vals = new Set<boolean>();
      for (const [k, v] of Object.entries(st.fields)) {
        const b = !!v;
        if (k !== '_id') vals.add(b);
        proj[k] = b ? 1 : 0;
      }
      if (vals.size > 1) throw new Error('field(): cannot mix inclusion and exclusion');
    }
    let cur = mingoFind(docs, toMongoQuery(w), proj as any);
    if (st.orders.length) cur = cur.sort(Object.fromEntries(st.orders) as any);
    if (st.skip) cur = cur.skip(st.skip);
    cur = cur.limit(limit);
    return cur.all() as AnyObj[];
  }

  function makeQuery(coll: string, st: QueryState): DbQuery {
    const next = (patch: Partial<QueryState>) => makeQuery(coll, { ...st, ...patch });
    return {
      where: (q) => next({ where: q }),
      field: (f) => next({ fields: { ...(st.fields || {}), ...norm(f) } }),
      orderBy: (field, order) => {
        const dir = String(order || 'asc').toLowerCase();
        if (dir !== 'asc' && dir !== 'desc') throw new Error(`orderBy: invalid order ${order}`);
        return next({ orders: [...st.orders, [field, dir === 'desc' ? -1 : 1]] });
      },
      skip: (n) => {
        if (!Number.isInteger(n) || n < 0) throw new Error('skip() expects a non-negative integer');
        return next({ skip: n });
      },
      limit: (n) => {
        if (!Number.isInteger(n) || n < 0) throw new Error('limit() expects a non-negative integer');
        return next({ limit: n });
      },
      get: async (): Promise<GetResult> => {
        const data = runGet(coll, st);
        return { data, affectedDocs: data.length };
      },
      count: async (): Promise<CountResult> => ({ total: matching(coll, norm(st.where)).length }),
      update: async (d): Promise<UpdateResult> => ({ updated: runUpdate(coll, st.where, d, false).updated }),
      updateAndReturn: async (d): Promise<UpdateAndReturnResult> => runUpdate(coll, st.where, d, true),
      remove: async (): Promise<RemoveResult> => {
        const w = norm(st.where);
        ensure(coll);
        const deleted = sqlite
          .transaction(() => {
            const del = sqlite.prepare(`DELETE FROM ${qi(coll)} WHERE _id = ?`);
            let n = 0;
            for (const d of matching(coll, w)) n += del.run(d._id).changes;
            return n;
          })
          .immediate();
        return { deleted, affectedDocs: deleted } as RemoveResult;
      },
    };
  }

  function collection(name: string): DbCollection {
    const base = makeQuery(name, { where: undefined, orders: [], skip: 0 });
    const doc = (id: string): DbDoc => {
      if (typeof id !== 'string' && typeof id !== 'number') throw new Error('doc() expects a string _id');
      const sid = String(id);
      const q = makeQuery(name, { where: { _id: sid }, orders: [], skip: 0, limit: 1 });
      return {
        get: () => q.get(),
        update: (d) => q.update(d),
        remove: () => q.remove(),
        set: async (d): Promise<UpdateResult> => {
          if (!isPlainObj(d)) throw new Error('set() expects an object');
          ensure(name);
          const data = norm(d) as AnyObj;
          for (const k of Object.keys(data)) if (isCmd(data[k])) throw new Error('set() does not accept db.command values');
          const full = { _id: sid, ...data };
          full._id = sid;
          return sqlite
            .transaction(() => {
              const exists = sqlite.prepare(`SELECT 1 FROM ${qi(name)} WHERE _id = ?`).get(sid);
              if (exists) {
                writeDoc(name, full);
                return { updated: 1 };
              }
              try {
                sqlite.prepare(`INSERT INTO ${qi(name)} (_id, doc) VALUES (?, ?)`).run(sid, encode(full));
              } catch (e) {
                throw dupError(name, e, full);
              }
              return { updated: 1, upsertedId: sid };
            })
            .immediate();
        },
      };
    };
    async function add(d: Record<string, unknown>): Promise<AddResult>;
    async function add(d: Record<string, unknown>[]): Promise<AddManyResult>;
    async function add(d: any): Promise<any> {
      ensure(name);
      if (Array.isArray(d)) {
        const ids = sqlite.transaction(() => d.map((x) => insertOne(name, x))).immediate();
        return { ids, inserted: ids.length };
      }
      return { id: insertOne(name, d) };
    }
    return { ...base, doc, add } as DbCollection;
  }

  return {
    collection: collection as Database['collection'],
    command,
    sqlite,
    close: () => sqlite.close(),
  };
}
