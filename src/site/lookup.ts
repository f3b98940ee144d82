/** The lookup page's filter: a pasted value (hex, optional 0x, any case or spacing) keeps only the rows that carry it. */
export function setUpLookup(form: HTMLFormElement): void {
  const input = form.querySelector<HTMLInputElement>('#lookup-value')!;
  const status = form.querySelector<HTMLElement>('#lookup-result')!;
  const rows = [...document.querySelectorAll<HTMLTableRowElement>('tr[data-value]')];
  form.hidden = false;
  form.addEventListener('submit', (e) => e.preventDefault());
  const filter = () => {
    const q = input.value.replace(/\s+/g, '').replace(/^0x/i, '').toLowerCase();
    let hits = 0;
    for (const r of rows) {
      const show = q === '' || r.dataset.value === q;
      r.hidden = !show;
      if (show && q !== '') hits++;
    }
    if (q === '') status.textContent = '';
    else {
      const names = new Set(rows.filter((r) => !r.hidden).map((r) => r.querySelector('a')?.textContent ?? ''));
      status.textContent = hits === 0 ? 'No release carries this value.' : `Carried by ${[...names].join(', ')}.`;
    }
  };
  input.addEventListener('input', filter);
  const initial = new URLSearchParams(location.search).get('value');
  if (initial) input.value = initial;
  filter();
}
