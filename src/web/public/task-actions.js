// The reassign and extend forms of an overdue task, one implementation for the board's overdue table (board.js) and
// the managers' overdue tab (manage.js): a form in a row of its own after the task's row, posting
// POST /tasks/{id}/reassign or POST /tasks/{id}/extend, the answer told in the view's notice (and announced).
import { api, problemText } from './api.js';
import { announce, el, formatDateTime } from './dom.js';

/** The new-deadline field: a local date and time, a day from now to the minute by default. */
function deadlineField(t, short, idPrefix) {
  const due = new Date(Date.now() + 24 * 3600000);
  due.setSeconds(0, 0);
  const local = new Date(due.getTime() - due.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const input = el('input', { id: `${idPrefix}extend-${t.taskId}`, type: 'datetime-local', required: true, value: local });
  return {
    controls: [el('label', { for: input.id }, `New deadline of task ${short}`), input],
    first: input,
    invalid: () => input,
    body() {
      if (!input.value) throw new Error('Choose the new deadline.');
      return { dueAt: new Date(input.value).toISOString() };
    },
  };
}

/**
 * The reader field. With `suggestions`: a choice of the task's suggested reader (`t.suggestedReaderId`), the next
 * eligible one (the workflow picks) or a reader typed in; without: a reader typed in, the next eligible when blank.
 */
function readerField(t, short, idPrefix, readersList, suggestions) {
  const label = `Reassign task ${short} to`;
  const toBody = (to) => (to ? { toReaderId: to } : {});
  if (!suggestions) {
    const input = el('input', { id: `${idPrefix}reassign-${t.taskId}`, list: readersList, autocomplete: 'off', placeholder: 'next eligible reader', size: 18 });
    return { controls: [el('label', { for: input.id }, label), input], first: input, invalid: () => input, body: () => toBody(input.value.trim()) };
  }
  const choice = el(
    'select',
    { id: `${idPrefix}reassign-choice-${t.taskId}` },
    t.suggestedReaderId ? el('option', { value: 'suggested' }, `Suggested: ${t.suggestedReaderId}`) : null,
    el('option', { value: 'next' }, 'Next eligible (the workflow picks)'),
    el('option', { value: 'chosen' }, 'A reader I choose…'),
  );
  const input = el('input', { id: `${idPrefix}reassign-${t.taskId}`, list: readersList, autocomplete: 'off', placeholder: 'reader id', size: 14, hidden: true, 'aria-label': 'Reader id' });
  choice.addEventListener('change', () => {
    input.hidden = choice.value !== 'chosen';
    if (!input.hidden) input.focus();
  });
  return {
    controls: [el('label', { for: choice.id }, label), choice, input],
    first: choice,
    invalid: () => (input.hidden ? choice : input),
    body() {
      if (choice.value === 'suggested') return toBody(t.suggestedReaderId);
      if (choice.value !== 'chosen') return {};
      const to = input.value.trim();
      if (!to) throw new Error('Type the reader to give the task to.');
      return toBody(to);
    },
  };
}

/**
 * Opens the `kind` form (`reassign` | `extend`) of overdue task `t` in a new row after its row `tr`, and returns that row.
 * Options: `idPrefix` of the fields' ids, `colspan` of the table, `readersList` (id of a <datalist> of reader ids),
 * `suggestions` (offer `t.suggestedReaderId`), `notice` (the view's status paragraph), `signal` (the view's), and
 * `onCancel()` / `onDone()`, called after the form's row (and, when done, the task's row) left the table.
 */
export function openTaskAction(tr, t, kind, { idPrefix = '', colspan, readersList, suggestions = false, notice, signal, onCancel, onDone }) {
  const short = t.taskId.slice(0, 8);
  const field = kind === 'reassign' ? readerField(t, short, idPrefix, readersList, suggestions) : deadlineField(t, short, idPrefix);
  const error = el('p', { class: 'field-error', role: 'alert' });
  const go = el('button', { type: 'submit', class: 'primary' }, kind === 'reassign' ? 'Reassign' : 'Extend');
  const cancel = el('button', { type: 'button', class: 'button-quiet' }, 'Cancel');
  const form = el('form', { class: 'inline-form', novalidate: true }, field.controls, go, cancel, error);
  const row = el('tr', { class: 'action-row', dataset: { actionFor: t.taskId } }, el('td', { colspan: String(colspan) }, form));
  tr.after(row);
  field.first.focus();
  cancel.addEventListener('click', () => {
    row.remove();
    onCancel?.();
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    go.disabled = true;
    try {
      const body = field.body();
      if (kind === 'reassign') {
        const res = await api(`/tasks/${t.taskId}/reassign`, { method: 'POST', body, signal });
        notice.textContent = `Task ${short} reassigned to ${res.readerId} (new task ${res.newTaskId.slice(0, 8)}, due ${formatDateTime(res.dueAt)}).`;
      } else {
        const res = await api(`/tasks/${t.taskId}/extend`, { method: 'POST', body, signal });
        notice.textContent = `Task ${short} is now due ${formatDateTime(res.dueAt)}.`;
      }
      notice.className = 'notice ok';
      announce(notice.textContent);
      row.remove();
      tr.remove();
      onDone?.();
    } catch (e) {
      if (e.name === 'AbortError') return;
      error.textContent = problemText(e);
      const bad = field.invalid();
      bad.setAttribute('aria-invalid', 'true');
      bad.focus();
    } finally {
      go.disabled = false;
    }
  });
  return row;
}
