// An admin command that could not do what was asked: the message says why (printed to the
// operator), `result` carries what was found on the way (e.g. the checks a host failed).
export class AdminError extends Error {
  override name = "AdminError";
  constructor(
    message: string,
    readonly result: unknown = null,
  ) {
    super(message);
  }
}
