/** The file driver's options (`forRoot({ file })`), their defaults and their checks. */
import { interval, invalid } from '../core/option-checks.js';

/** `forRoot({ file })`. */
export interface FileDriverOptions {
  /** Where the session files are kept (one `<id>.json` per session), created on first use. Default './sessions'. */
  directory?: string;
  /** How often expired files are swept, in ms; 0 turns the sweep off. Default 15 minutes. */
  pruneInterval?: number;
}

export const FILE_DEFAULTS = { directory: './sessions', pruneInterval: 15 * 60 * 1000 } as const;

/** The file driver's options with their defaults; one that cannot work is a start-up error. */
export function resolveFileOptions(input: FileDriverOptions = {}): Required<FileDriverOptions> {
  const resolved = {
    directory: input.directory ?? FILE_DEFAULTS.directory,
    pruneInterval: input.pruneInterval ?? FILE_DEFAULTS.pruneInterval,
  };
  if (typeof resolved.directory !== 'string' || resolved.directory.trim() === '') {
    invalid(`file.directory must be a directory path such as './sessions'`);
  }
  interval('file.pruneInterval', resolved.pruneInterval);
  return resolved;
}

export interface FileStoreOptions extends FileDriverOptions {
  /** Bytes of one session's JSON past which a change is refused (SESSION_TOO_LARGE). */
  maxSize?: number;
  /** Told how many expired files each prune that dropped some dropped. */
  pruned?: (count: number) => void;
}
