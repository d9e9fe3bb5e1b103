/**
 * The few building blocks every page uses: loading data, running an action with progress and errors
 * placed next to the field they concern, labelled fields, and a button that asks before it acts.
 */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';

function toApiError(error: unknown): ApiError {
  return error instanceof ApiError
    ? error
    : new ApiError(0, 'client', (error as Error)?.message ?? String(error));
}

/** Loads with `load` (again every `everyMs` while the page is visible); `reload` on demand. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], everyMs?: number) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const latest = useRef(load);
  latest.current = load;
  const reload = useCallback(async () => {
    try {
      setData(await latest.current());
      setError(null);
    } catch (e) {
      setError(toApiError(e));
    }
  }, []);
  useEffect(() => {
    reload();
    if (!everyMs) return;
    const timer = setInterval(() => document.visibilityState === 'visible' && reload(), everyMs);
    return () => clearInterval(timer);
  }, deps);
  return { data, error, reload, setData };
}

export interface Action {
  pending: boolean;
  error: ApiError | null;
  done: string | null;
  run(work: () => Promise<unknown>, done?: string): Promise<boolean>;
  /** The error's text if it concerns `field` (or a member of it: `whitelist` covers `whitelist.2`). */
  on(field: string): string | undefined;
  /** The error's text unless it belongs to one of `fields` (shown there instead). */
  besides(...fields: string[]): string | undefined;
}

/** One action of a form: pending while it runs, then its error or a short note that it was done. */
export function useAction(): Action {
  const [state, setState] = useState<{ pending: boolean; error: ApiError | null; done: string | null }>({
    pending: false,
    error: null,
    done: null,
  });
  const concerns = (field: string) => {
    const at = state.error?.field;
    return at !== undefined && (at === field || at.startsWith(`${field}.`));
  };
  return {
    ...state,
    async run(work, done) {
      setState({ pending: true, error: null, done: null });
      try {
        await work();
        setState({ pending: false, error: null, done: done ?? null });
        return true;
      } catch (e) {
        setState({ pending: false, error: toApiError(e), done: null });
        return false;
      }
    },
    on: (field) => (concerns(field) ? state.error?.message : undefined),
    besides: (...fields) => (state.error && !fields.some(concerns) ? state.error.message : undefined),
  };
}

/** Form values with `a.b` paths, so one field component binds any member of a nested object. */
export interface Form<T> {
  value: T;
  get(path: string): unknown;
  set(path: string, value: unknown): void;
}

export function useForm<T extends object>(initial: T): Form<T> {
  const [value, setValue] = useState(initial);
  const walk = (root: unknown, path: string) =>
    path.split('.').reduce((o, k) => (o as Record<string, unknown>)?.[k], root);
  return {
    value,
    get: (path) => walk(value, path),
    set(path, next) {
      if (!path) return setValue(next as T);
      const copy = structuredClone(value);
      const keys = path.split('.');
      const last = keys.pop() as string;
      ((keys.length ? walk(copy, keys.join('.')) : copy) as Record<string, unknown>)[last] = next;
      setValue(copy);
    },
  };
}

/** A client-side check that failed, shown next to `field` like the device's own errors. */
export function fail(field: string, message: string): never {
  throw new ApiError(0, 'client', message, field);
}

interface Bound {
  form: Form<object>;
  path: string;
  label: string;
  hint?: string;
  action?: Action;
}

/**
 * A labelled control with its hint and error below it. The label wraps the control (passed as
 * children), so a click on it focuses the control and its accessible name is the label text alone.
 */
export function Field(props: {
  label: string;
  error?: string | undefined;
  hint?: string | undefined;
  children: ComponentChildren;
}) {
  return (
    <div class={props.error ? 'field invalid' : 'field'}>
      {/* biome-ignore lint/a11y/noLabelWithoutControl: the control is the children, inside the label */}
      <label>
        <span class="label">{props.label}</span>
        {props.children}
      </label>
      {props.hint && <small>{props.hint}</small>}
      {props.error && (
        <span class="error" role="alert">
          {props.error}
        </span>
      )}
    </div>
  );
}

/** An input bound to `form` at `path`; numbers stay numbers (NaN while empty, which the device refuses). */
export function Input(
  props: Bound & {
    type?: 'text' | 'password' | 'number';
    autocomplete?: string;
    required?: boolean;
    min?: number;
    max?: number;
    step?: string;
  },
) {
  const { form, path, label, hint, action, type = 'text', ...rest } = props;
  const number = type === 'number';
  return (
    <Field label={label} hint={hint} error={action?.on(path)}>
      <input
        name={path.split('.').pop()}
        type={type as 'text'}
        {...rest}
        value={String(form.get(path) ?? '')}
        onInput={(e) =>
          form.set(path, number ? Number(e.currentTarget.value || Number.NaN) : e.currentTarget.value)
        }
      />
    </Field>
  );
}

export function Select(props: Bound & { options: [string | number, string][]; disabled?: boolean }) {
  const { form, path } = props;
  const value = form.get(path);
  return (
    <Field label={props.label} hint={props.hint} error={props.action?.on(path)}>
      <select
        name={path.split('.').pop()}
        disabled={props.disabled}
        value={String(value)}
        onChange={(e) => {
          const chosen = e.currentTarget.value;
          form.set(path, typeof value === 'number' ? Number(chosen) : chosen);
        }}
      >
        {props.options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </Field>
  );
}

export function Check(props: { label: string; checked: boolean; onChange(checked: boolean): void }) {
  return (
    <label class="check">
      <input
        type="checkbox"
        checked={props.checked}
        onChange={(e) => props.onChange(e.currentTarget.checked)}
      />{' '}
      {props.label}
    </label>
  );
}

/** A checkbox bound to a boolean at `path`. */
export function Toggle(props: Bound) {
  return (
    <Check
      label={props.label}
      checked={Boolean(props.form.get(props.path))}
      onChange={(v) => props.form.set(props.path, v)}
    />
  );
}

/** The submit button of a form and what became of the last submit: progress, error or success. */
export function Submit(props: { action: Action; label: string; busy: string; fields?: string[] }) {
  const { action } = props;
  const error = action.besides(...(props.fields ?? []));
  return (
    <div class="actions">
      <button type="submit" disabled={action.pending} aria-busy={action.pending}>
        {action.pending ? props.busy : props.label}
      </button>
      <Status action={action} error={error} />
    </div>
  );
}

export function Status(props: { action: Action; error?: string | undefined }) {
  if (props.error) {
    return (
      <span class="error" role="alert">
        {props.error}
      </span>
    );
  }
  return props.action.done ? (
    <span class="ok" role="status">
      {props.action.done}
    </span>
  ) : null;
}

/** A button that asks "are you sure?" in place before it runs `onConfirm`. */
export function ConfirmButton(props: {
  label: string;
  question: string;
  confirm: string;
  busy: string;
  done: string;
  danger?: boolean;
  onConfirm(): Promise<unknown>;
}) {
  const [asking, setAsking] = useState(false);
  const action = useAction();
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) yes.current?.focus();
  }, [asking]);
  return (
    <div class="confirm">
      {asking ? (
        <div role="alertdialog" aria-label={props.question} class="ask">
          <span>{props.question}</span>
          <button
            ref={yes}
            type="button"
            class={props.danger ? 'danger' : ''}
            onClick={async () => {
              setAsking(false);
              await action.run(props.onConfirm, props.done);
            }}
          >
            {props.confirm}
          </button>
          <button type="button" class="secondary" onClick={() => setAsking(false)}>
            Cancel
          </button>
        </div>
      ) : (
        <button
          type="button"
          class={props.danger ? 'danger' : 'secondary'}
          disabled={action.pending}
          onClick={() => setAsking(true)}
        >
          {action.pending ? props.busy : props.label}
        </button>
      )}
      <Status action={action} error={action.error?.message} />
    </div>
  );
}

export function Section(props: { title: string; wide?: boolean; children: ComponentChildren }) {
  return (
    <section class={props.wide ? 'card wide' : 'card'}>
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

/** Label–value pairs; rows without a value are left out. */
export function Pairs(props: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="pairs">
      {props.rows
        .filter(([, value]) => value != null && value !== '')
        .map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
    </dl>
  );
}

/** Where a load failed or is still under way. */
export function Loading(props: { error: ApiError | null }) {
  return props.error ? (
    <p class="error" role="alert">
      {props.error.message}
    </p>
  ) : (
    <p class="muted" aria-busy="true">
      Loading…
    </p>
  );
}

export function formatTime(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}
