import { memo, useState } from 'react';
import { fileHref, fitWithin, humanSize, isInlineImage, typeLabel, type FileAccess } from '../lib/files';
import type { FileInfo } from '../lib/protocol';
import { DownloadIcon, FileIcon } from './Icons';
import { Modal } from './Modal';

/** The largest a photo is shown in the timeline, in CSS pixels. */
const THUMB_WIDTH = 260;
const THUMB_HEIGHT = 280;

/**
 * A message's files: photos as thumbnails that open full size in a
 * lightbox, anything else as a chip that downloads it. `access` is what
 * every URL needs: the page's token, the private room's key.
 */
export const MessageFiles = memo(function MessageFiles({ files, access }: { files: readonly FileInfo[]; access: FileAccess }) {
  return (
    <div className="msg-files" data-testid="message-files">
      {files.map((f) =>
        isInlineImage(f.type) ? <ImageThumb key={f.id} file={f} access={access} /> : <FileChip key={f.id} file={f} access={access} />,
      )}
    </div>
  );
});

function ImageThumb({ file, access }: { file: FileInfo; access: FileAccess }) {
  const [open, setOpen] = useState(false);
  const src = fileHref(file.url, access);
  // Known dimensions reserve the space before the image loads, so the list does not jump.
  const size = file.width && file.height ? fitWithin({ width: file.width, height: file.height }, THUMB_WIDTH, THUMB_HEIGHT) : null;
  return (
    <>
      <button
        type="button"
        className="file-image"
        data-testid="file-image"
        data-file-id={file.id}
        aria-label={`Open ${file.name} full size`}
        onClick={() => setOpen(true)}
      >
        <img src={src} alt={file.name} loading="lazy" decoding="async" width={size?.width} height={size?.height} />
      </button>
      {open && (
        <Modal title={file.name} onClose={() => setOpen(false)} testId="lightbox" className="lightbox">
          <img className="lightbox-image" data-testid="lightbox-image" src={src} alt={file.name} />
          <div className="lightbox-foot">
            <span className="muted small">
              {file.width && file.height ? `${file.width} × ${file.height} · ` : ''}
              {humanSize(file.size)}
            </span>
            <a className="link-btn" href={src} download={file.name} data-testid="lightbox-download">
              <DownloadIcon /> Download
            </a>
          </div>
        </Modal>
      )}
    </>
  );
}

function FileChip({ file, access }: { file: FileInfo; access: FileAccess }) {
  return (
    <a
      className="file-chip"
      data-testid="file-chip"
      data-file-id={file.id}
      href={fileHref(file.url, access)}
      download={file.name}
      title={`Download ${file.name}`}
    >
      <span className="file-chip-icon">
        <FileIcon />
      </span>
      <span className="file-chip-text">
        <span className="file-chip-name" data-testid="file-name">
          {file.name}
        </span>
        <span className="file-chip-meta">
          {typeLabel(file.type, file.name)} · {humanSize(file.size)}
        </span>
      </span>
      <DownloadIcon />
    </a>
  );
}
