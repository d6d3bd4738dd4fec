import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { createDatabase } from '../../tools/local-unicloud';

type Db = ReturnType<typeof createDatabase>;
let dir: string;
let indexDir: string;
let db: Db;

function writeIndexes(d: string) {
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(
    path.join(d, 'orders.index.json'),
    JSON.stringify([
      { IndexName: 'order_no_unique', MgoKeySchema: { MgoIndexKeys: [{ Name: 'order_no', Direction: '1' }], MgoIsUnique: true } },
      { IndexName: 'user_plain', MgoKeySchema: { MgoIndexKeys: [{ Name: 'user_id', Direction: '1' }], MgoIsUnique: false } },
    ]),
  );
  fs.writeFileSync(
    path.join(d, 'accounts.index.json'),
    JSON.stringify([
      {
        IndexName: 'app_openid',
        MgoKeySchema: {
          MgoIndexKeys: [
            { Name: 'app', Direction: '1' },
            { Name: 'wx.openid', Direction: '1' },
          ],
          MgoIsUnique: true,
        },
      },
    ]),
  );
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lu-db-'));
  indexDir = path.join(dir, 'database');
  writeIndexes(indexDir);
  db = createDatabase({ file: path.join(dir, 'data', 'unicloud.sqlite'), indexDirs: [indexDir] });
});

afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('result shapes', () => {
  test('add / add many / doc get / count / remove', async () => {
    const c = db.collection('things');
    const one = await c.add({ a: 1 });
    expect(Object.keys(one)).toEqual(['id']);
    expect(one.id).toMatch(/^[0-9a-f]{24}$/);
    const many = await c.add([{ a: 2 }, { a: 3 }]);
    expect(many.inserted).toBe(2);
    expect(many.ids).toHaveLength(2);
    const ids = [one.id, ...many.ids];
    expect([...ids].sort()).toEqual(ids); // increasing
    const got = await c.doc(one.id).get();
    expect(got.data).toEqual([{ _id: one.id, a: 1 }]);
    expect((await c.doc('000000000000000000000000').get()).data).toEqual([]);
    expect(await c.count()).toEqual({ total: 3 });
    expect(await c.where({ a: db.command.gte(2) }).count()).toEqual({ total: 2 });
    const rm = await c.where({ a: 2 }).remove();
    expect(rm.deleted).toBe(1);
    expect((await c.doc(ids[2]).remove()).deleted).toBe(1);
    expect((await c.doc(ids[2]).remove()).deleted).toBe(0);
    expect((await c.get()).data.map((d) => d.a)).toEqual([1]);
  });

  test('update: 0 when nothing matched or nothing changed', async () => {
    const c = db.collection('things');
    const { id } = await c.add({ a: 1, s: 'x' });
    expect(await c.doc(id).update({ a: 2 })).toEqual({ updated: 1 });
    expect(await c.doc(id).update({ a: 2 })).toEqual({ updated: 0 });
    expect(await c.where({ a: 99 }).update({ a: 3 })).toEqual({ updated: 0 });
    expect((await c.doc('nope').update({ a: 5 })).updated).toBe(0);
  });

  test('updateAndReturn updates only the first match and returns the doc after update', async () => {
    const c = db.collection('things');
    const a = await c.add({ k: 'x', n: 1 });
    const b = await c.add({ k: 'x', n: 1 });
    const r = await c.where({ k: 'x' }).updateAndReturn({ n: db.command.inc(5) });
    expect(r).toEqual({ updated: 1, doc: { _id: a.id, k: 'x', n: 6 } });
    expect((await c.doc(b.id).get()).data[0].n).toBe(1);
    expect(await c.where({ k: 'none' }).updateAndReturn({ n: 1 })).toEqual({ updated: 0, doc: null });
  });

  test('doc().set replaces the whole document and upserts', async () => {
    const c = db.collection('things');
    const { id } = await c.add({ a: 1, b: { c: 1 } });
    expect(await c.doc(id).set({ z: 9 })).toEqual({ updated: 1 });
    expect((await c.doc(id).get()).data).toEqual([{ _id: id, z: 9 }]);
    const up = await c.doc('custom-id').set({ y: 1 });
    expect(up).toEqual({ updated: 1, upsertedId: 'custom-id' });
    expect((await c.doc('custom-id').get()).data).toEqual([{ _id: 'custom-id', y: 1 }]);
  });
});

describe('query operators', () => {
  beforeEach(async () => {
    await db.collection('p').add([
      { name: 'a', n: 1, tags: ['x', 'y'], meta: { lvl: 1, color: 'red' } },
      { name: 'b', n: 2, tags: ['y'], meta: { lvl: 2, color: 'blue' } },
      { name: 'c', n: 3, meta: { lvl: 2, color: 'red' }, opt: null },
      { name: 'd', n: 4, extra: true },
    ]);
  });
  const names = async (q: Record<string, unknown> | unknown) =>
    (
      await db
        .collection('p')
        .where(q as any)
        .get()
    ).data
      .map((d) => d.name)
      .sort();

  test('comparison, in/nin, exists, neq', async () => {
    const _ = db.command;
    expect(await names({ n: _.eq(2) })).toEqual(['b']);
    expect(await names({ n: _.neq(2) })).toEqual(['a', 'c', 'd']);
    expect(await names({ n: _.gt(2) })).toEqual(['c', 'd']);
    expect(await names({ n: _.gte(2) })).toEqual(['b', 'c', 'd']);
    expect(await names({ n: _.lt(2) })).toEqual(['a']);
    expect(await names({ n: _.lte(2) })).toEqual(['a', 'b']);
    expect(await names({ n: _.in([1, 4, 9]) })).toEqual(['a', 'd']);
    expect(await names({ name: _.nin(['a', 'b']) })).toEqual(['c', 'd']);
    expect(await names({ extra: _.exists(true) })).toEqual(['d']);
    expect(await names({ meta: _.exists(false) })).toEqual(['d']);
    expect(await names({ n: 2, name: 'a' })).toEqual([]);
    expect(await names({ n: '2' })).toEqual([]); // types matter
  });

  test('and / or: whole-query, field-level and chained', async () => {
    const _ = db.command;
    expect(await names(_.or({ name: 'a' }, { n: 4 }))).toEqual(['a', 'd']);
    expect(await names(_.or([{ name: 'a' }, { 'meta.lvl': 2 }]))).toEqual(['a', 'b', 'c']);
    // chained form: not in the DbCommandValue type of types/unicloud-server.d.ts, but uniCloud supports it
    expect(await names({ n: (_.gt(1) as any).lt(4) })).toEqual(['b', 'c']);
    expect(await names({ n: _.or(_.lt(2), _.gt(3)) })).toEqual(['a', 'd']);
    expect(await names({ n: _.and(_.gt(1), _.lt(3)) })).toEqual(['b']);
    expect(await names(_.and({ 'meta.color': 'red' }, { n: _.gt(1) }))).toEqual(['c']);
  });

  test('nested paths: partial object match, dotted keys, exact eq, arrays', async () => {
    const _ = db.command;
    expect(await names({ meta: { color: 'red' } })).toEqual(['a', 'c']);
    expect(await names({ meta: { lvl: 2, color: 'red' } })).toEqual(['c']);
    expect(await names({ 'meta.lvl': 1 })).toEqual(['a']);
    expect(await names({ meta: _.eq({ lvl: 2, color: 'blue' }) })).toEqual(['b']);
    expect(await names({ meta: _.eq({ lvl: 2 }) })).toEqual([]);
    expect(await names({ tags: 'y' })).toEqual(['a', 'b']); // array contains
    expect(await names({ _id: _.exists(true), name: /^[ab]$/ })).toEqual(['a', 'b']);
  });

  test('orderBy (multiple), skip, limit, field', async () => {
    const c = db.collection('p');
    const r1 = await c.orderBy('meta.lvl', 'desc').orderBy('n', 'asc').get();
    expect(r1.data.map((d) => d.name)).toEqual(['b', 'c', 'a', 'd']);
    const r2 = await c.orderBy('n', 'desc').skip(1).limit(2).get();
    expect(r2.data.map((d) => d.name)).toEqual(['c', 'b']);
    const r3 = await c.where({ name: 'a' }).field({ name: true }).get();
    expect(Object.keys(r3.data[0]).sort()).toEqual(['_id', 'name']);
    const r4 = await c.where({ name: 'a' }).field({ name: true, _id: false }).get();
    expect(r4.data).toEqual([{ name: 'a' }]);
    const r5 = await c.where({ name: 'a' }).field({ meta: false, tags: false }).get();
    expect(Object.keys(r5.data[0]).sort()).toEqual(['_id', 'n', 'name']);
    await expect(c.field({ name: true, n: false }).get()).rejects.toThrow();
  });

  test('default limit 100, max 1000', async () => {
    const c = db.collection('many');
    await c.add(Array.from({ length: 1105 }, (_, i) => ({ i })));
    expect((await c.get()).data).toHaveLength(100);
    expect((await c.limit(5000).get()).data).toHaveLength(1000);
    expect((await c.limit(3).get()).data.map((d) => d.i)).toEqual([0, 1, 2]);
    expect(await c.count()).toEqual({ total: 1105 });
    expect((await c.skip(1100).limit(10).get()).data.map((d) => d.i)).toEqual([1100, 1101, 1102, 1103, 1104]);
  });
});

describe('update operators', () => {
  test('nested merge, dotted keys, set, remove, inc, push', async () => {
    const c = db.collection('u');
    const _ = db.command;
    const { id } = await c.add({ count: { fav: 1, view: 5 }, info: { a: 1, b: 2 }, arr: [1], gone: 'x', n: 1 });
    await c.doc(id).update({ count: { fav: 2 } });
    await c.doc(id).update({ 'count.share': 3 });
    await c.doc(id).update({ info: _.set({ only: true }) });
    await c.doc(id).update({ gone: _.remove() });
    await c.doc(id).update({ n: _.inc(-3), arr: _.push(2) });
    await c.doc(id).update({ arr: _.push([3, 4]), deep: { x: { y: 1 } } });
    const doc = (await c.doc(id).get()).data[0];
    expect(doc).toEqual({
      _id: id,
      count: { fav: 2, view: 5, share: 3 },
      info: { only: true },
      arr: [1, 2, 3, 4],
      n: -2,
      deep: { x: { y: 1 } },
    });
    // _id cannot be changed by update
    await c.doc(id).update({ _id: 'other', n: 0 });
    expect((await c.doc(id).get()).data[0].n).toBe(0);
  });

  test('Date values round-trip', async () => {
    const c = db.collection('dates');
    const when = new Date('2024-01-02T03:04:05.000Z');
    const { id } = await c.add({ when });
    const d = (await c.doc(id).get()).data[0];
    expect(d.when instanceof Date).toBe(true);
    expect(d.when.toISOString()).toBe(when.toISOString());
    expect((await c.where({ when: db.command.gt(new Date('2024-01-01')) }).count()).total).toBe(1);
  });
});

describe('unique indexes', () => {
  test('duplicate add is refused with E11000 and code 11000, nothing written', async () => {
    const c = db.collection('orders');
    await c.add({ order_no: 'A1', user_id: 'u1' });
    await c.add({ order_no: 'A2', user_id: 'u1' }); // non-unique index allows duplicates of user_id
    const err = await c.add({ order_no: 'A1', user_id: 'u2' }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(11000);
    expect(err.message).toMatch(/^E11000 duplicate key error collection: orders index: order_no_unique dup key: \{ order_no: "A1" \}/);
    expect((await c.count()).total).toBe(2);
    // a batch containing a duplicate writes nothing
    await expect(c.add([{ order_no: 'B1' }, { order_no: 'A2' }])).rejects.toMatchObject({ code: 11000 });
    expect((await c.where({ order_no: 'B1' }).count()).total).toBe(0);
  });

  test('update violating the index changes nothing (also multi-doc updates)', async () => {
    const c = db.collection('orders');
    const a = await c.add({ order_no: 'A1', s: 0 });
    await c.add({ order_no: 'A2', s: 0 });
    await expect(c.doc(a.id).update({ order_no: 'A2' })).rejects.toMatchObject({ code: 11000 });
    expect((await c.doc(a.id).get()).data[0].order_no).toBe('A1');
    await expect(c.where({ s: 0 }).update({ order_no: 'SAME', s: 1 })).rejects.toThrow(/E11000/);
    expect((await c.where({ s: 1 }).count()).total).toBe(0);
  });

  test('missing field counts as null; compound unique on a nested path', async () => {
    const c = db.collection('orders');
    await c.add({ other: 1 });
    await expect(c.add({ other: 2 })).rejects.toMatchObject({ code: 11000 });
    const acc = db.collection('accounts');
    await acc.add({ app: 'x', wx: { openid: 'o1' } });
    await acc.add({ app: 'y', wx: { openid: 'o1' } });
    await expect(acc.add({ app: 'x', wx: { openid: 'o1' } })).rejects.toThrow(
      /index: app_openid dup key: \{ app: "x", wx\.openid: "o1" \}/,
    );
  });

  test('duplicate _id is refused', async () => {
    const c = db.collection('things');
    await c.add({ _id: 'fixed', a: 1 });
    await expect(c.add({ _id: 'fixed', a: 2 })).rejects.toMatchObject({ code: 11000 });
    expect((await c.doc('fixed').get()).data[0].a).toBe(1);
  });
});

describe('persistence and multiple processes', () => {
  test('data and unique indexes survive reopening the file', async () => {
    const file = path.join(dir, 'data', 'unicloud.sqlite');
    const { id } = await db.collection('orders').add({ order_no: 'P1', v: { w: 1 } });
    db.close();
    db = createDatabase({ file, indexDirs: [indexDir] });
    expect((await db.collection('orders').doc(id).get()).data).toEqual([{ _id: id, order_no: 'P1', v: { w: 1 } }]);
    await expect(db.collection('orders').add({ order_no: 'P1' })).rejects.toMatchObject({ code: 11000 });
    const { id: id2 } = await db.collection('orders').add({ order_no: 'P2' });
    expect(id2 > id).toBe(true);
  });

  test('2 processes × 200 conditional increments lose no update; uniqueness holds across processes', async () => {
    const file = path.join(dir, 'data', 'unicloud.sqlite');
    const { id } = await db.collection('counters').add({ n: 0, plain: 0 });
    const worker = path.join(__dirname, 'fixtures', 'hammer-worker.ts');
    const run = (tagName: string) =>
      new Promise<any>((resolve, reject) => {
        const p = spawn(process.execPath, ['--import', 'tsx', worker, file, id, '200', tagName, indexDir], {
          cwd: path.resolve(__dirname, '..', '..'),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        p.stdout.on('data', (c) => (out += c));
        p.stderr.on('data', (c) => (err += c));
        p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker ${tagName} exit ${code}: ${err}`))));
      });
    const [r1, r2] = await Promise.all([run('p1'), run('p2')]);
    expect(r1.done).toBe(200);
    expect(r2.done).toBe(200);
    const doc = (await db.collection('counters').doc(id).get()).data[0];
    expect(doc.n).toBe(400);
    expect(doc.by).toEqual({ p1: 200, p2: 200 });
    expect(doc.plain).toBe(400);
    expect(r1.uniqueWins + r2.uniqueWins).toBe(50);
    expect(r1.dupErrors + r2.dupErrors).toBe(50);
    expect((await db.collection('orders').count()).total).toBe(50);
  }, 60000);
});
