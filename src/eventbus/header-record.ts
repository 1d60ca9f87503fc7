/**
 * Set `name` on a header record as an own data property. A plain assignment of `__proto__`
 * would hit the prototype setter and silently drop the header (headers come from the wire,
 * so any name is possible).
 */
export function setHeader<V>(record: Record<string, V>, name: string, value: V): void {
  if (name === '__proto__') Object.defineProperty(record, name, { value, enumerable: true, writable: true, configurable: true });
  else record[name] = value;
}
