/**
 * The few building blocks every page uses: loading data (and polling it), running an action with
 * progress and errors placed next to the field they concern, labelled fields, buttons that show their
 * action's progress (one asks before it acts), tables and label–value pairs.
 */
import type { ComponentChildren, ComponentType } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';
import { formatDateTime, needTexts, t } from './i18n.ts';

function toApiError(error: unknown): ApiError {
  return error instanceof ApiError
    ? error
    : new ApiError(0, 'client', (error as Error)?.message ?? String(error));
}

/** Calls `tick` every `ms` while the page is visible; not at all while `ms` is 0 or undefined. */
export function useEvery(ms: number | undefined, tick: () => unknown): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!ms) return;
    const timer = setInterval(() => document.visibilityState === 'visible' && latest.current(), ms);
    return () => clearInterval(timer);
  }, [ms]);
}

/** Loads with `load` (again every `everyMs` while the page is visible); `reload` on demand. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], everyMs?: number) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const latest = useRef(load);
  latest.current = load;
  const reload = async () => {
    try {
      setData(await latest.current());
      setError(null);
    } catch (e) {
      setError(toApiError(e));
    }
  };
  useEffect(() => {
    reload();
  }, deps);
  useEvery(everyMs, reload);
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
        onInput={(e) => form.set(path, number ? e.currentTarget.valueAsNumber : e.currentTarget.value)}
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
          <option value={v}>{text}</option>
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

/** What became of the last run of `action`: its error (unless one of `fields` shows it) or its note. */
export function Status(props: { action: Action; fields?: string[] | undefined }) {
  const { action } = props;
  const error = action.besides(...(props.fields ?? []));
  return error ? (
    <span class="error" role="alert">
      {error}
    </span>
  ) : (
    action.done && (
      <span class="ok" role="status">
        {action.done}
      </span>
    )
  );
}

/**
 * A button with its action's progress on itself and the outcome beside it. With `run` it runs that as
 * an action of its own; without, it submits its form, whose `action` it shows.
 */
export function Button(props: {
  label: string;
  busy: string;
  class?: string;
  action?: Action;
  fields?: string[];
  done?: string;
  run?(): Promise<unknown>;
}) {
  const own = useAction();
  const action = props.action ?? own;
  const { run } = props;
  return (
    <>
      <button
        type={run ? 'button' : 'submit'}
        class={props.class}
        disabled={action.pending}
        aria-busy={action.pending}
        onClick={run && (() => action.run(run, props.done))}
      >
        {action.pending ? props.busy : props.label}
      </button>
      <Status action={action} fields={props.fields} />
    </>
  );
}

/** The submit button of a form and what became of the last submit: progress, error or success. */
export function Submit(props: { action: Action; label: string; busy: string; fields?: string[] }) {
  return (
    <div class="actions">
      <Button {...props} />
    </div>
  );
}

/** A ref that focuses its element once it is there (a function of its own, so called only then). */
const focus = (element: HTMLElement | null) => element?.focus();

/**
 * An "are you sure?" in place: the question (which says what will be lost or given away), a danger
 * button and Cancel. The focus goes to Cancel, so Enter, Enter does nothing irreversible; Escape
 * cancels.
 */
export function Confirm(props: {
  question: string;
  confirm: string;
  onConfirm(): unknown;
  onCancel(): void;
}) {
  return (
    <div
      role="alertdialog"
      aria-label={props.question}
      class="actions"
      onKeyDown={(e) => {
        if (e.key !== 'Escape') return;
        e.preventDefault();
        props.onCancel();
      }}
    >
      <span>{props.question}</span>
      <button type="button" class="danger" onClick={props.onConfirm}>
        {props.confirm}
      </button>
      <button ref={focus} type="button" class="secondary" onClick={props.onCancel}>
        {t('Cancel')}
      </button>
    </div>
  );
}

/**
 * A button that asks (Confirm) before it runs `onConfirm`, a danger; after a cancel the focus is back
 * on the button.
 */
export function ConfirmButton(props: {
  label: string;
  question: string;
  confirm: string;
  busy: string;
  done: string;
  onConfirm(): Promise<unknown>;
}) {
  const [asking, setAsking] = useState(false);
  const action = useAction();
  const trigger = useRef<HTMLButtonElement>(null);
  const cancelled = useRef(false);
  useLayoutEffect(() => {
    if (!asking && cancelled.current) trigger.current?.focus();
    cancelled.current = false;
  }, [asking]);
  return (
    <div>
      {asking ? (
        <Confirm
          question={props.question}
          confirm={props.confirm}
          onConfirm={async () => {
            setAsking(false);
            await action.run(props.onConfirm, props.done);
          }}
          onCancel={() => {
            cancelled.current = true;
            setAsking(false);
          }}
        />
      ) : (
        <button
          ref={trigger}
          type="button"
          class="danger"
          disabled={action.pending}
          onClick={() => setAsking(true)}
        >
          {action.pending ? props.busy : props.label}
        </button>
      )}
      <Status action={action} />
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

/**
 * A table with its column headings (false: left out), scrolling inside its card when too wide. The
 * scrolling box takes the focus, so a keyboard can scroll it too (WCAG 2.1.1); `label` names it.
 */
export function Table(props: {
  head: (string | false)[];
  class?: string;
  label?: string;
  children: ComponentChildren;
}) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
    <section class="scroll" tabIndex={0} aria-label={props.label ?? t('Table')}>
      <table class={props.class}>
        <thead>
          <tr>{props.head.map((h) => h && <th scope="col">{h}</th>)}</tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </section>
  );
}

/** Label–value pairs; rows without a value are left out. */
export function Pairs(props: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="pairs">
      {props.rows
        .filter(([, value]) => (value ?? '') !== '')
        .map(([label, value]) => (
          <div>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
    </dl>
  );
}

/**
 * Over values shown before a reload failed (the device does not answer, say): they are not current.
 * Every card of polled values carries one, so an offline device marks all of them, not only some.
 */
export function NotUpdating(props: { error: ApiError | null }) {
  return (
    props.error && (
      <p class="error" role="status" data-not-updating>
        {t('Not updating: {message} The values below are from before.', { message: props.error.message })}
      </p>
    )
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
      {t('Loading…')}
    </p>
  );
}

/**
 * A component loaded with `import()` when it is first shown: a chunk of its own (scripts/build.mjs),
 * so what few visitors open does not weigh on every first load. `part` is the imported module's file
 * name without extension: the build names the language pack of the part's texts after it.
 */
export function lazy<P extends object>(
  load: () => Promise<ComponentType<P>>,
  part: string,
): ComponentType<P> {
  let loaded: ComponentType<P> | null = null;
  return (props: P) => {
    const [View, setView] = useState(() => loaded);
    const [error, setError] = useState<ApiError | null>(null);
    useEffect(() => {
      if (View) return;
      // Its texts in the language shown come with its code; without them it shows in English.
      Promise.all([load(), needTexts(part).catch(() => undefined)])
        .then(([view]) => view)
        .then(
          (view) => {
            loaded = view;
            setView(() => view);
          },
          (e) => setError(toApiError(e)),
        );
    }, []);
    return View ? <View {...props} /> : <Loading error={error} />;
  };
}

export function formatTime(iso: string): string {
  return formatDateTime(new Date(iso));
}
