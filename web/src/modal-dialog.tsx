/**
 * A modal dialog (the browser's own `<dialog>`, shown with showModal): the rest of the page is inert
 * while it is open, so the focus stays inside; Escape closes it, and the focus goes back to where it
 * was when the dialog opened. It is open while it is rendered: `onClose` says the person wants out.
 */
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { t } from './i18n.ts';

export function ModalDialog(props: { title: string; onClose(): void; children: ComponentChildren }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useLayoutEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const element = dialog.current;
    element?.showModal();
    return () => {
      // Closed first: while it is modal the page behind is inert and cannot take the focus. The opener
      // may have gone with a re-render (a deleted row): then the focus stays where it is.
      element?.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={dialog}
      aria-label={props.title}
      onCancel={(e) => {
        // Escape: the page decides (by no longer rendering the dialog), so its state stays the truth.
        e.preventDefault();
        props.onClose();
      }}
    >
      <div class="dialog-head">
        <h2>{props.title}</h2>
        <button type="button" class="secondary" aria-label={t('Close')} onClick={props.onClose}>
          ×
        </button>
      </div>
      {props.children}
    </dialog>
  );
}
