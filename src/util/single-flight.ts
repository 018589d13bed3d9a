/** Calls made while one is in flight share its result instead of starting another. */
export function singleFlight<A, T>(run: (arg: A) => Promise<T>): (arg: A) => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return (arg) =>
    (inFlight ??= run(arg).finally(() => {
      inFlight = undefined;
    }));
}
