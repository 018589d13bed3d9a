/** Thrown by the pure parsers when text is not in the format they read; the caller counts and logs it. */
export class ParseError extends Error {
  override readonly name = 'ParseError';
}
