/** A mistake the user can fix (a bad file, a wrong model kind, an impossible option). Its
 * message says what is wrong and how to fix it; the CLI prints it on one line and exits 2. */
export class UserError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UserError';
  }
}
