const rows = JSON.parse(document.getElementById('link-data').textContent);
const body = document.querySelector('#links tbody');
const limit = Number(document.getElementById('links').dataset.limit);
const withPosts = rows.some(r => r.post);
let sortKey = 'n', sortDir = 1;
function colour(score) {
  if (score === null || score === undefined) return '';
  return 'hsl(' + Math.round(120 * score) + ',70%,88%)';
}
function cell(text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  td.textContent = text;
  return td;
}
function legend() {
  const scale = document.getElementById('score-scale');
  for (let i = 0; i <= 10; i++) {
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = colour(i / 10);
    swatch.title = (i / 10).toFixed(1);
    scale.appendChild(swatch);
  }
}
function render() {
  document.querySelectorAll('#links th[data-key]').forEach(th => {
    if (th.dataset.key === sortKey) th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  });
  const min = Number(document.getElementById('min-score').value);
  const max = Number(document.getElementById('max-score').value);
  const query = document.getElementById('search').value.toLowerCase();
  const flagged = document.getElementById('flagged').checked;
  let shown = rows.filter(r => {
    const s = r.score === null ? 0 : r.score;
    if (s < min || s > max) return false;
    if (flagged && !r.flags.length && r.mark !== 'wrong' && r.mark !== 'partial') return false;
    return !query || r.src.toLowerCase().includes(query) || r.tgt.toLowerCase().includes(query);
  });
  shown.sort((a, b) => {
    const x = a[sortKey], y = b[sortKey];
    if (x === y) return a.n - b.n;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sortDir;
  });
  document.getElementById('shown').textContent =
    shown.length + ' of ' + rows.length + ' links' + (shown.length > limit ? ' (first ' + limit + ' drawn)' : '');
  const fragment = document.createDocumentFragment();
  for (const r of shown.slice(0, limit)) {
    const tr = document.createElement('tr');
    tr.style.background = colour(r.score);
    tr.appendChild(cell(String(r.n)));
    if (withPosts) tr.appendChild(cell(r.post || ''));
    tr.appendChild(cell(r.s));
    tr.appendChild(cell(r.t));
    tr.appendChild(cell(r.type));
    tr.appendChild(cell(r.score === null ? '' : r.score.toFixed(3)));
    const flags = cell('');
    for (const f of r.flags) { const span = document.createElement('span'); span.className = 'flag'; span.textContent = f; flags.appendChild(span); }
    tr.appendChild(flags);
    if (r.mark) tr.appendChild(cell(r.mark, 'mark-' + r.mark));
    tr.appendChild(cell(r.src));
    tr.appendChild(cell(r.tgt));
    fragment.appendChild(tr);
  }
  body.replaceChildren(fragment);
}
document.querySelectorAll('#links th[data-key]').forEach(th => th.addEventListener('click', () => {
  const key = th.dataset.key;
  sortDir = sortKey === key ? -sortDir : 1;
  sortKey = key;
  render();
}));
for (const id of ['min-score', 'max-score', 'search', 'flagged']) {
  document.getElementById(id).addEventListener('input', render);
}
legend();
render();
