/** Told of a session a commit ended (sign-out, destroy, regenerate: its old id), once kept. Must not throw. */
export type SessionEnded = (driver: string, id: string) => void;

/** A session a commit ended: its driver's name and old id. */
export type Ended = [driver: string, id: string];

/**
 * A commit's store work, which then tells `told` of the sessions it ended; at once when there is no
 * work to wait for. Nothing is told when the work fails: those sessions did not end.
 */
export function thenTell(
  work: Promise<unknown> | undefined,
  ended: Ended[] | undefined,
  told: SessionEnded | undefined,
): Promise<unknown> | undefined {
  if (told === undefined || ended === undefined) return work;
  const tell = () => ended.forEach(([driver, id]) => told(driver, id));
  return work === undefined ? void tell() : work.then((value) => (tell(), value));
}
