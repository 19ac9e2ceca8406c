/**
 * The session directory as the file store finds it. Its file names are session ids (credentials),
 * and whatever file is in it is served as a session, so it must be the app's user's alone, as
 * OpenSSH wants a key file. On POSIX systems it is
 * - made 0700 when missing (by a write; a read finds nothing in a missing directory);
 * - refused when it is not a directory, when another user owns it, or when its group or others may
 *   write in it;
 * - tightened to 0700, with a warning, when its group or others may only read or search it (0755);
 * - refused when a directory above it belongs to another user than root or the app's, or may be
 *   written by group or others without the sticky bit (they could swap the session directory), or
 *   when a symbolic link on the way to it is in a directory group or others may write (they could
 *   point it elsewhere).
 * A directory others may write is refused, not tightened: a file in it may already be someone
 * else's. One only others may read is tightened: nobody else could have put anything in it, and
 * listing it shows the ids. Symbolic links on the way are resolved here, once: the store works in
 * the real path, so a link pointed elsewhere later changes nothing. On Windows, where modes and
 * owners are not POSIX ones, only "not a directory" is checked.
 */
import type { Logger } from '@nestjs/common';
import { userInfo } from 'node:os';
import { chmod, lstat, mkdir, realpath, stat } from 'node:fs/promises';
import { dirname, join, parse, relative } from 'node:path';
import { SessionConfigError } from '../session.errors.js';
import { isMissing } from './file.format.js';

/** What the driver tells a request (500 SESSION_STORE_MISCONFIGURED) when it refuses its directory. */
export const UNSAFE_DIRECTORY_FIX =
  "the session directory is not the app's user's alone; the log names it and the fix";

/** Refused: the session directory (or the way to it) is not the app's user's alone. */
export class UnsafeDirectoryError extends SessionConfigError {
  constructor(message: string) {
    super('SESSION_FILE_DIRECTORY_UNSAFE', message);
  }
}

const GROUP_OR_OTHER_WRITE = 0o022;
const STICKY = 0o1000;

/**
 * The real path of the session directory once checked (and made, with `create`, when missing);
 * undefined when it is missing and not to be made. Throws UnsafeDirectoryError for what the table
 * above refuses, and the I/O error of a check that could not be made.
 */
export async function openDirectory(
  directory: string,
  create: boolean,
  logger: Logger,
): Promise<string | undefined> {
  const uid = process.geteuid?.();
  // The links on the part of the way that exists, before anything is made through them.
  const whole = uid === undefined || (await checkLinks(directory));
  if (create) await mkdir(directory, { recursive: true, mode: 0o700 });
  else if (!whole) return undefined;
  let real: string;
  try {
    real = await realpath(directory);
  } catch (error) {
    if (isMissing(error) && !create) return undefined;
    throw error;
  }
  const info = await stat(real);
  if (!info.isDirectory()) {
    throw new UnsafeDirectoryError(
      `the session directory '${directory}' is not a directory: remove what is there, or set file.directory to a directory`,
    );
  }
  if (uid === undefined) return real;
  const found = `the session directory '${real}' has mode ${modeOf(info.mode)} and owner ${user(info.uid, uid)}`;
  if (info.uid !== uid) {
    throw new UnsafeDirectoryError(
      `${found}: it belongs to another user, who could put sessions in it. ` +
        `Wanted: owner ${user(uid, uid)} (the app's user), mode 0700. ` +
        `Fix: chown ${uid} '${real}' once you know every file in it, or set file.directory to a directory of the app's user`,
    );
  }
  if (info.mode & GROUP_OR_OTHER_WRITE) {
    throw new UnsafeDirectoryError(
      `${found}: ${whoMayWrite(info.mode)} may write in it, so a session file in it may not be the app's. ` +
        `Wanted: mode 0700. Fix: remove the files in it you do not know, then chmod 700 '${real}'`,
    );
  }
  await checkAbove(real, uid);
  if (info.mode & 0o077) {
    await chmod(real, 0o700);
    logger.warn(
      `The session directory '${real}' had mode ${modeOf(info.mode)}: others could list the session ids in it. Its mode is now 0700`,
    );
  }
  return real;
}

/**
 * The session directory as the store last checked it (openDirectory): the check runs once and is
 * kept; a missing directory, a failed check, or `forget()` (after an I/O failure) makes the next call
 * check again, so a directory removed while the app runs is made again.
 */
export class CheckedDirectory {
  private checked: Promise<string | undefined> | undefined;
  /** Where the session files are: the real path the last check found (the configured path until then). */
  location: string;

  constructor(
    readonly path: string,
    private readonly logger: Logger,
    /** Called on each write's check. */
    private readonly writing: () => void = () => {},
  ) {
    this.location = path;
  }

  /** For a read: the real path, undefined while the directory does not exist (there is nothing to read). */
  found(): Promise<string | undefined> {
    this.checked ??= this.check(false);
    return this.checked;
  }

  /** For a write: the real path, the directory made when missing. */
  async ready(): Promise<string> {
    const location = (await this.found()) ?? (await (this.checked = this.check(true)));
    this.writing();
    return location!;
  }

  /** The next call checks again. */
  forget(): void {
    this.checked = undefined;
  }

  private check(create: boolean): Promise<string | undefined> {
    const forget = () => {
      if (this.checked === checking) this.checked = undefined;
    };
    const checking = openDirectory(this.path, create, this.logger).then(
      (location) => {
        if (location === undefined) forget();
        else this.location = location;
        return location;
      },
      (error: unknown) => {
        forget();
        throw error;
      },
    );
    return checking;
  }
}

/**
 * Each symbolic link on the way to `directory` must be in a directory that only its owner may write:
 * otherwise another user could point it elsewhere. False when the way ends before the directory.
 */
async function checkLinks(directory: string): Promise<boolean> {
  const { root } = parse(directory);
  let path = root;
  for (const part of relative(root, directory).split(/[\\/]/).filter(Boolean)) {
    path = join(path, part);
    let info;
    try {
      info = await lstat(path);
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
    if (!info.isSymbolicLink()) continue;
    const holder = await stat(dirname(path));
    if (holder.mode & GROUP_OR_OTHER_WRITE) {
      throw new UnsafeDirectoryError(
        `'${path}', on the way to the session directory, is a symbolic link in a directory ${whoMayWrite(holder.mode)} may write (mode ${modeOf(holder.mode)}), who could point it elsewhere. ` +
          `Fix: set file.directory to a path without it, such as '${await realpath(path).catch(() => path)}'`,
      );
    }
  }
  return true;
}

/** Each directory above the session directory: owned by root or the app's user, and not writable by others but with the sticky bit. */
async function checkAbove(real: string, uid: number): Promise<void> {
  for (let path = dirname(real); ; path = dirname(path)) {
    const info = await stat(path);
    const writable = (info.mode & GROUP_OR_OTHER_WRITE) !== 0 && (info.mode & STICKY) === 0;
    if ((info.uid !== 0 && info.uid !== uid) || writable) {
      throw new UnsafeDirectoryError(
        `'${path}', above the session directory '${real}', has mode ${modeOf(info.mode)} and owner ${user(info.uid, uid)}: ` +
          `${writable ? whoMayWrite(info.mode) : 'its owner'} could replace the session directory with another. ` +
          `Wanted: each directory above it owned by root or by the app's user, ${user(uid, uid)}, and not writable by group or others (unless sticky, as /tmp). ` +
          `Fix: ${writable ? `chmod go-w '${path}'` : `chown ${uid} '${path}'`}, or set file.directory elsewhere`,
      );
    }
    if (dirname(path) === path) return;
  }
}

function modeOf(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

function whoMayWrite(mode: number): string {
  return mode & 0o002 ? 'any user' : 'its group';
}

/** `uid 1000 (alice)` for the app's user, `uid 1001` for another. */
function user(id: number, self: number): string {
  if (id !== self) return `uid ${id}`;
  try {
    return `uid ${id} (${userInfo().username})`;
  } catch {
    return `uid ${id}`;
  }
}
