import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The state file on disk: one JSON header line, then the JSON body it describes.
 *
 *   {"format":"celery-prometheus-exporter-state","version":2,"fingerprint":"…","savedAt":…,"clean":…,"bytes":N,"sha256":"…"}\n<body>
 *
 * The header is checked before the body is parsed: a file of another program, of another format
 * version or of another configuration is refused without reading further; a truncated or altered
 * body fails its length or checksum. Writes go to a temporary file that is fsynced and renamed
 * over the old one (and the directory fsynced), so a crash leaves the old file or the new one,
 * never a mix.
 */
export const FORMAT = 'celery-prometheus-exporter-state';
export const VERSION = 2;

export interface Header {
  format: string;
  version: number;
  fingerprint: string;
  /** Unix ms of the save. */
  savedAt: number;
  /** Written by the save at shutdown (nothing was counted or served after it). */
  clean: boolean;
  bytes: number;
  sha256: string;
}

export type ReadResult =
  | { kind: 'missing' }
  | { kind: 'ok'; header: Header; body: unknown }
  /** Unusable: `reason` is one short phrase for the log. */
  | { kind: 'invalid'; reason: string; incompatible: boolean };

export function readStateFile(path: string, expectedFingerprint: string): ReadResult {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'invalid', reason: `cannot be read (${code ?? String(err)})`, incompatible: false };
  }
  if (buf.length === 0) return { kind: 'invalid', reason: 'is empty', incompatible: false };
  const nl = buf.indexOf(10);
  if (nl < 0 || nl > 4096) return { kind: 'invalid', reason: 'has no state header (not a state file, or truncated)', incompatible: false };
  let header: Header;
  try {
    header = JSON.parse(buf.subarray(0, nl).toString('utf8')) as Header;
  } catch {
    return { kind: 'invalid', reason: 'has no state header (not a state file)', incompatible: false };
  }
  if (typeof header !== 'object' || header === null || header.format !== FORMAT) {
    return { kind: 'invalid', reason: 'is not a state file of this exporter', incompatible: false };
  }
  if (header.version !== VERSION) {
    return { kind: 'invalid', reason: `has format version ${String(header.version)}, this exporter reads ${VERSION}`, incompatible: true };
  }
  if (header.fingerprint !== expectedFingerprint) {
    return {
      kind: 'invalid',
      reason: 'was written with another configuration (buckets, labels, metric names or label-shaping flags changed)',
      incompatible: true,
    };
  }
  const body = buf.subarray(nl + 1);
  if (body.length !== header.bytes) return { kind: 'invalid', reason: `is truncated (${body.length} of ${header.bytes} body bytes)`, incompatible: false };
  if (createHash('sha256').update(body).digest('hex') !== header.sha256) return { kind: 'invalid', reason: 'fails its checksum', incompatible: false };
  try {
    return { kind: 'ok', header, body: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { kind: 'invalid', reason: 'has a body that is not JSON', incompatible: false };
  }
}

/** Writes atomically; returns the file's size in bytes. Throws on any I/O error (the old file is then untouched). */
export function writeStateFile(path: string, h: Omit<Header, 'format' | 'version' | 'bytes' | 'sha256'>, bodyText: string): number {
  const body = Buffer.from(bodyText, 'utf8');
  const header: Header = { format: FORMAT, version: VERSION, ...h, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
  const head = Buffer.from(`${JSON.stringify(header)}\n`, 'utf8');
  const tmp = `${path}.tmp`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w', 0o600);
    writeAll(fd, head);
    writeAll(fd, body);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to remove
    }
    throw err;
  }
  syncDir(dirname(path));
  return head.length + body.length;
}

/** Renames an unusable file to PATH.rejected (replacing an older one), so it is kept for a look but never read again. */
export function moveAside(path: string): string | undefined {
  const to = `${path}.rejected`;
  try {
    renameSync(path, to);
    return to;
  } catch {
    return undefined;
  }
}

/** Removes the file (after a failed save: an older file must not be restored under newer served values). */
export function removeStateFile(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** The rename is durable once the directory is synced (some filesystems refuse: then best effort). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // e.g. EISDIR/EINVAL on filesystems without directory fsync
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
