export { H, REPLAYED_AT_HEADER, RESERVED_HEADERS } from './names.js';
export { encodeJob, decodeJob, messageKeyOf } from './codec.js';
export { parseRfc3339, formatRfc3339 } from './time.js';
export { deadLetterMessage, failureHeaders } from './dead-letter.js';
