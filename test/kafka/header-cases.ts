/**
 * Record header layouts that exercise the header decoders' fast paths and their fall-backs:
 * repeated and inherited names, invalid UTF-8, the invalid-headers list, null names and values,
 * and names and values remembered per position (the same layout twice, then same-length others).
 * Each decoder must give what the general path (`decodeHeaderValues` of the raw form) gives.
 */
import { Buffer } from 'node:buffer';
import { INVALID_HEADERS_HEADER, type HeaderPairs } from '../../src/eventbus/kafka/wire.js';

const b = (x: string): Buffer => Buffer.from(x);
const bad = Buffer.from([0x61, 0xff, 0x62]);

/** The layouts, in an order that makes the per-position memory matter (run them twice). */
export const HEADER_CASES: readonly HeaderPairs[] = [
  [],
  [[b('job_id'), b('1')], [b('job_type'), b('t')], [b('empty'), null], [null, b('no name')]],
  [[b('x'), bad], [b('y'), b('ok \uFFFD real replacement char')]],
  [[b('x'), b('1')], [b('y'), b('2')], [b('x'), b('3')]], // repeated: last value, first position
  [[b('x'), bad], [b('x'), b('fine')]], // repeated: only the last value's validity counts
  [[b('x'), b('fine')], [b('x'), bad]],
  [[b('__proto__'), b('p')], [b('a'), b('1')]],
  [[b('constructor'), b('c')], [b('toString'), b('s')]],
  [[b('a'), bad], [b(INVALID_HEADERS_HEADER), b('b,c')], [b('b'), b('lossy copy')]],
  [[b('k'), null], [b('k'), null]],
  // Names remembered per position: the same layout again, then same-length other names.
  [[b('job_id'), b('1')], [b('job_type'), b('t')], [b('empty'), null], [null, b('no name')]],
  [[b('job_ix'), b('1')], [b('job_typf'), b('t')], [b('emptz'), b('')], [b('x'), b('y')]],
  [[Buffer.from([0x6e, 0xff]), b('bad name')], [b('job_type'), b('t')]],
  [[Buffer.from([0x6e, 0xfe]), b('other bad name')], [b('job_type'), b('t')]],
  // Short values remembered per position: the same again, same-length other values, a bad
  // one as long as a remembered good one, values too long to remember.
  [[b('q'), b('orders')], [b('n'), b('2026-11-28T21:00:00.000Z')]],
  [[b('q'), b('orders')], [b('n'), b('2026-11-28T21:00:00.000Z')]],
  [[b('q'), b('ordert')], [b('n'), b('2026-11-28T21:00:00.001Z')]],
  [[b('q'), Buffer.from([0x6f, 0x72, 0x64, 0x65, 0x72, 0xff])], [b('n'), b('x'.repeat(40))]],
  [[b('q'), b('ordert')], [b('n'), b('x'.repeat(40))]],
  // Every byte of a remembered value is kept: 'ab' after 'ac' (after 'abc') is 'ab'.
  [[b('q'), b('abc')]],
  [[b('q'), b('ac')]],
  [[b('q'), b('ab')]],
];
