/** Things to close, closed once, newest first, each even if an earlier one failed. */
export class Lifecycle {
  private readonly closers: Array<() => unknown> = [];
  private closing: Promise<void> | undefined;

  /** Registers a closer; returns the value for chaining. */
  add<T>(value: T, close: (value: T) => unknown): T {
    this.closers.push(() => close(value));
    return value;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.closers.length > 0) {
        const close = this.closers.pop()!;
        try {
          await close();
        } catch {
          // keep closing the rest
        }
      }
    })();
    return this.closing;
  }
}
