/**
 * The NATS bus's own header encoding and reading (wire.ts `encodeHeaders`, `readDelivered`) against
 * the client's header set they replace on the hot path: the same bytes on the wire, the same
 * message read back. No server needed: messages are built with the client's own `MsgImpl`, so a
 * client version whose internals changed shape fails here.
 */
import { describe, expect, it } from 'vitest';
import { headers as natsHeaders, MsgHdrsImpl, MsgImpl } from '@nats-io/nats-core/internal';
import type { Msg, MsgHdrs } from '@nats-io/nats-core';
import { encodeHeaders, payloadLength, readDelivered, readMessage, rawHeaderBytes, writeHeaders } from '../../src/eventbus/nats/wire.js';
import type { Message } from '../../src/eventbus/types.js';

const te = new TextEncoder();

/** The block the client writes for `writeHeaders` + `set('Nats-Msg-Id')` (the path before `encodeHeaders`). */
function clientBlock(message: Message, dueAt?: number, origin?: string, msgId?: string): Uint8Array {
  const h = natsHeaders() as MsgHdrs & { encode(): Uint8Array };
  writeHeaders(h, message, dueAt, origin);
  if (msgId !== undefined) h.set('Nats-Msg-Id', msgId);
  return h.encode();
}

/** A received message as the client builds it: header block and payload in one buffer. */
function received(block: Uint8Array | undefined, payload: Uint8Array): Msg {
  const rdata = Buffer.concat([block ?? new Uint8Array(0), payload]);
  const hdr = block ? block.length : -1;
  return new MsgImpl({ subject: te.encode('s'), sid: 1, hdr, size: rdata.length }, rdata, {} as never) as unknown as Msg;
}

/** What the client's header set makes of the block (the path before `readDelivered`). */
function clientRead(msg: Msg, keepDueAt = false) {
  return readMessage(msg.data, msg.headers, rawHeaderBytes(msg), keepDueAt);
}

const proto = (() => {
  const r: Record<string, string> = {};
  Object.defineProperty(r, '__proto__', { value: 'p', enumerable: true, writable: true, configurable: true });
  return r;
})();

const messages: { name: string; message: Message; dueAt?: number; origin?: string; msgId?: string }[] = [
  { name: 'job headers', message: { value: te.encode('{"p":1}'), headers: { job_id: 'a1', job_name: 'x', job_attempt: '1', job_created_at: '2026-11-28T18:00:00.000Z' } }, msgId: 'a1' },
  { name: 'a key and a due time', message: { key: 'k 1', value: te.encode('v'), headers: { a: 'b' } }, dueAt: 1_800_000_000_000 },
  { name: 'a relay origin', message: { value: te.encode('v'), headers: { a: 'b' } }, dueAt: 1, origin: 'S|12', msgId: 'jobbus-relay-hop|S|12' },
  { name: 'escaped values', message: { key: '', value: te.encode(''), headers: { e: '', lead: ' x', trail: 'x ', crlf: 'a\r\nb', mark: '%jb%x', tab: '\tx' } } },
  { name: 'unicode values', message: { key: 'ключ', value: te.encode('v'), headers: { u: 'é ü 日本', emoji: '🙂', nbsp: '\u00a0x\u3000', inner: 'a\u2028b' } } },
  { name: 'lone surrogates', message: { value: te.encode('v'), headers: { s: 'a\ud800b', t: '\udfffz' } } },
  { name: 'numeric and odd names', message: { value: te.encode('v'), headers: { z: '1', '10': 'ten', '2': 'two', 'A-b_c.d': 'x', toString: 't' } } },
  { name: 'transport and delay headers dropped', message: { value: te.encode('v'), headers: { 'Nats-Msg-Id': 'x', 'nats-expected-stream': 'y', jobbus_key: 'k', jobbus_due_at: '5', jobbus_relay_origin: 'o', natsy: 'kept' } } },
  { name: 'a __proto__ header', message: { value: te.encode('v'), headers: proto } },
  { name: 'no headers', message: { value: te.encode('v'), headers: {} } },
  { name: 'a padded msg id', message: { value: te.encode('v'), headers: { a: 'b' } }, msgId: '  id  ' },
];

describe('NATS wire: encodeHeaders writes what the client wrote', () => {
  for (const c of messages) {
    it(c.name, () => {
      const mine = encodeHeaders(c.message, c.dueAt, c.origin, c.msgId);
      expect(Buffer.from(mine.encode()).toString('latin1')).toBe(Buffer.from(clientBlock(c.message, c.dueAt, c.origin, c.msgId)).toString('latin1'));
    });
  }

  it('refuses the header names the client path refuses', () => {
    expect(() => encodeHeaders({ value: te.encode(''), headers: { 'a b': 'x' } }, undefined, undefined, undefined)).toThrow(/printable ASCII/);
    expect(() => encodeHeaders({ value: te.encode(''), headers: { 'a:b': 'x' } }, undefined, undefined, undefined)).toThrow(/printable ASCII/);
    expect(() => encodeHeaders({ value: te.encode(''), headers: { n: 1 as unknown as string } }, undefined, undefined, undefined)).toThrow(/must be strings/);
  });

  it('answers reads from the pairs it encoded and is read-only', () => {
    const h = encodeHeaders({ key: 'k', value: te.encode(''), headers: { a: 'b' } }, undefined, undefined, 'id');
    expect(h.keys()).toEqual(['a', 'jobbus_key', 'Nats-Msg-Id']);
    expect(h.get('a')).toBe('b');
    expect(h.has('Nats-Msg-Id')).toBe(true);
    expect(h.values('jobbus_key')).toEqual(['k']);
    expect([...h]).toEqual([['a', ['b']], ['jobbus_key', ['k']], ['Nats-Msg-Id', ['id']]]);
    expect(h.code).toBe(0);
    expect(() => h.set('a')).toThrow(/read-only/);
  });
});

describe('NATS wire: readDelivered reads what the client read', () => {
  for (const c of messages) {
    for (const keepDueAt of [false, true]) {
      it(`${c.name}${keepDueAt ? ' (relay)' : ''}`, () => {
        const block = clientBlock(c.message, c.dueAt, c.origin, c.msgId);
        const fast = readDelivered(received(block, c.message.value), keepDueAt);
        const slow = clientRead(received(block, c.message.value), keepDueAt);
        expect(fast).toEqual(slow);
        expect(Object.keys(fast.message.headers)).toEqual(Object.keys(slow.message.headers));
        expect(Object.keys(fast.message)).toEqual(Object.keys(slow.message));
      });
    }
  }

  const blocks: [string, string][] = [
    ['repeated names: the first value counts', 'NATS/1.0\r\na: 1\r\na: 2\r\njobbus_key: k1\r\njobbus_key: k2\r\njobbus_due_at: 7\r\njobbus_due_at: 9\r\n\r\n'],
    ['values trimmed, lines without a colon skipped, empty names', 'NATS/1.0\r\na:   x y  \r\nnocolon\r\n: empty\r\nb:\r\nc:d:e\r\n\r\n'],
    ['a block without the trailing empty line', 'NATS/1.0\r\na: b'],
    ['an empty line inside the block', 'NATS/1.0\r\na: b\r\n\r\nc: d\r\n\r\n'],
    ['unicode whitespace around values', 'NATS/1.0\r\na: \u00a0x\u3000 \r\nb:\ufeffy\u2000\r\nc: \t\v\f z\r\n\r\n'],
    ['a lone LF or CR in a line without a colon', 'NATS/1.0\r\nab\ncd\r\nx\ry\r\na: b\r\n\r\n'],
    ['only the status line', 'NATS/1.0\r\n\r\n'],
    ['a status code', 'NATS/1.0 409 Conflict\r\na: b\r\n\r\n'],
    ['a due time that is not a number', 'NATS/1.0\r\njobbus_due_at: soon\r\n\r\n'],
    ['a foreign Nats- header', 'NATS/1.0\r\nNats-Sequence: 4\r\nNATS-x: y\r\na: b\r\n\r\n'],
  ];
  for (const [name, text] of blocks) {
    it(name, () => {
      const block = te.encode(text);
      for (const keepDueAt of [false, true]) {
        expect(readDelivered(received(block, te.encode('v')), keepDueAt)).toEqual(clientRead(received(block, te.encode('v')), keepDueAt));
      }
    });
  }

  it('leaves a block that is not UTF-8 to the client path, which names the bad header', () => {
    const block = Buffer.concat([te.encode('NATS/1.0\r\na: ok\r\nb: '), Buffer.from([0xff, 0xfe]), te.encode('\r\n\r\n')]);
    const read = readDelivered(received(block, te.encode('v')));
    expect(read).toEqual(clientRead(received(block, te.encode('v'))));
    expect(read.message.invalidHeaders).toEqual(['b']);
  });

  it('a header line the client refuses (its decode throws) makes the message poison, never a throw', () => {
    const cases: [string, string][] = [
      ['NATS/1.0\r\nbad name: x\r\nok: 1\r\n\r\n', '"bad name"'],
      ['NATS/1.0\r\na: x\ny\r\nok: 1\r\n\r\n', '"a"'],
      ['NATS/1.0\r\na: x\ry\r\nok: 1\r\n\r\n', '"a"'],
      ['NATS/1.0\r\nä: x\r\nok: 1\r\n\r\n', '"ä"'],
    ];
    for (const [text, refused] of cases) {
      const block = te.encode(text);
      expect(() => MsgHdrsImpl.decode(block)).toThrow();
      const { message } = readDelivered(received(block, te.encode('v')));
      expect(message.invalidHeaders, text).toContain(refused);
      expect(message.headers, text).toEqual({ ok: '1' });
    }
  });

  it('a message without headers', () => {
    const msg = received(undefined, te.encode('v'));
    expect(readDelivered(msg)).toEqual(clientRead(msg));
    expect(payloadLength(msg)).toBe(1);
  });

  it('payloadLength is the payload without the header block', () => {
    const block = te.encode('NATS/1.0 100 Idle Heartbeat\r\n\r\n');
    expect(payloadLength(received(block, new Uint8Array(0)))).toBe(0);
    expect(payloadLength(received(block, te.encode('abc')))).toBe(3);
  });
});
