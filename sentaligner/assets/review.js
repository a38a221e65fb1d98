'use strict';
const data = JSON.parse(document.getElementById('review-data').textContent);
const docs = data.documents;
const original = data.links.map(link => Object.freeze(link));
const storageKey = 'aligner-review:' + data.sha256;  // the name before 0.4.0: work kept in a browser stays found
const list = document.getElementById('links');
const reviewer = document.getElementById('reviewer');
const queue = document.getElementById('queue');
let links = original.slice();
let rows = [];
let current = 0, cursor = 0;  // the selected link, and the sentence in it (its source ones, then its target ones)
const undoStack = [], redoStack = [];

function say(text) { document.getElementById('message').textContent = text; }
function colour(score) {
  return score === null || score === undefined ? '' : 'hsl(' + Math.round(120 * score) + ',70%,85%)';
}
function element(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}
function sentences(link) { return link.s.map(id => ['src', id]).concat(link.t.map(id => ['tgt', id])); }

function makeRow(link) {
  const row = element('div', 'link st-' + link.st);
  row.setAttribute('role', 'row');
  const meta = element('div', 'meta');
  const doc = docs[link.d];
  if (doc.job !== null) meta.append(element('div', '', 'job ' + doc.job));
  if (doc.src_post_id !== null) meta.append(element('div', '', 'posts ' + doc.src_post_id + '→' + doc.tgt_post_id));
  meta.append(element('div', 'ids', '[' + link.s.join(',') + ']:[' + link.t.join(',') + ']'));
  const line = element('div', '', link.s.length + '-' + link.t.length + ' ');
  if (link.score !== null && link.score !== undefined) {
    const score = element('span', 'score', link.score.toFixed(3));
    score.style.background = colour(link.score);
    line.append(score);
  }
  meta.append(line, element('div', 'status', link.st));
  for (const flag of link.flags) meta.append(element('span', 'flag', flag));
  row.append(meta);
  let k = 0;
  for (const [side, ids] of [['src', link.s], ['tgt', link.t]]) {
    const cell = element('div', 'side ' + side);
    if (!ids.length) cell.append(element('span', 'none', side === 'src' ? 'no source sentence' : 'no target sentence'));
    for (const id of ids) {
      const span = element('span', 'sent');
      span.dataset.k = k++;
      span.append(element('span', 'id', '#' + id), doc[side][id]);
      cell.append(span);
    }
    row.append(cell);
  }
  return row;
}

// Rows go in chunks that the browser lays out only near the viewport (content-visibility): a
// long document opens and scrolls as fast as a short one.
const CHUNK = 50;
function drawAll() {
  rows = links.map(makeRow);
  const chunks = [];
  for (let at = 0; at < rows.length || !chunks.length; at += CHUNK) {
    const chunk = element('div', 'chunk');
    chunk.append(...rows.slice(at, at + CHUNK));
    chunks.push(chunk);
  }
  list.replaceChildren(...chunks);
}

function showSelection(scroll) {
  document.querySelectorAll('.link.selected').forEach(row => row.classList.remove('selected'));
  document.querySelectorAll('.sent.cursor').forEach(span => span.classList.remove('cursor'));
  if (!links.length) return;
  current = Math.max(0, Math.min(current, links.length - 1));
  cursor = Math.max(0, Math.min(cursor, sentences(links[current]).length - 1));
  const row = rows[current];
  row.classList.add('selected');
  const span = row.querySelector('.sent[data-k="' + cursor + '"]');
  if (span) span.classList.add('cursor');
  if (scroll) row.scrollIntoView({block: 'nearest'});
}
function select(index, sentence) {
  current = index;
  cursor = sentence || 0;
  showSelection(true);
}

function showProgress() {
  const reviewed = links.filter(link => link.st !== 'unreviewed').length;
  document.getElementById('progress').textContent = reviewed + ' of ' + links.length + ' links reviewed';
}
function keep() {
  try {
    localStorage.setItem(storageKey, JSON.stringify({sha256: data.sha256, links: links, current: current,
                                                     reviewer: reviewer.value, time: new Date().toISOString()}));
  } catch (error) {
    say('could not keep this work in the browser (' + error.name + '): save it now');
  }
}

// Every edit replaces `count` links at `at` by `added`; undo replaces them back.
function replace(at, count, added) {
  const removed = links.splice(at, count, ...added);
  const fresh = added.map(makeRow);
  const gone = rows.splice(at, count, ...fresh);
  const anchor = gone.length ? gone[0] : rows[at + fresh.length];
  if (anchor) anchor.before(...fresh);
  else list.lastElementChild.append(...fresh);
  for (const row of gone) row.remove();
  showProgress();
  return removed;
}
function change(at, count, added, select_, message) {
  const removed = replace(at, count, added);
  undoStack.push({at: at, removed: removed, added: added, selected: current});
  redoStack.length = 0;
  current = select_;
  cursor = 0;
  showSelection(true);
  keep();
  say(message);
}
function undo() {
  const step = undoStack.pop();
  if (!step) return say('nothing to undo');
  replace(step.at, step.added.length, step.removed);
  redoStack.push(step);
  select(step.selected);
  keep();
  say('undone');
}
function redo() {
  const step = redoStack.pop();
  if (!step) return say('nothing to redo');
  replace(step.at, step.removed.length, step.added);
  undoStack.push(step);
  select(step.at);
  keep();
  say('redone');
}

function edited(d, s, t) { return {d: d, s: s, t: t, score: null, flags: [], st: 'edited', o: 0}; }
function sameDocument(i, j) { return i >= 0 && j < links.length && links[i].d === links[j].d; }

function merge(i) {  // link i with link i + 1
  if (!sameDocument(i, i + 1)) return say('no neighbouring link in this document to merge with');
  const a = links[i], b = links[i + 1];
  change(i, 2, [edited(a.d, a.s.concat(b.s), a.t.concat(b.t))], i, 'merged');
}
function split() {
  const link = links[current];
  if (link.s.length < 2 && link.t.length < 2) {
    return say('only a link with several sentences on a side splits; U takes a sentence out');
  }
  const parts = [];
  for (let k = 0; k < Math.max(link.s.length, link.t.length); k++) {
    parts.push(edited(link.d, k < link.s.length ? [link.s[k]] : [], k < link.t.length ? [link.t[k]] : []));
  }
  change(current, 1, parts, current, 'split into ' + parts.length + ' links, sentence by sentence');
}
function untranslated() {
  const link = links[current];
  const all = sentences(link);
  if (all.length === 1) {
    if (link.st === 'confirmed') return say('already confirmed as a sentence without a counterpart');
    return change(current, 1, [Object.assign({}, link, {st: 'confirmed'})], current,
                  'kept as a sentence without a counterpart');
  }
  const [side, id] = all[cursor];
  const ids = side === 'src' ? link.s : link.t;
  const at = ids.indexOf(id);
  if (at !== 0 && at !== ids.length - 1) {
    return say('only the first or the last sentence of a side can be taken out; split the link first');
  }
  const rest = ids.filter(other => other !== id);
  const left = side === 'src' ? edited(link.d, rest, link.t) : edited(link.d, link.s, rest);
  const alone = side === 'src' ? edited(link.d, [id], []) : edited(link.d, [], [id]);
  const first = ids.length > 1 ? at === 0 : side === 'src';
  change(current, 1, first ? [alone, left] : [left, alone], first ? current : current + 1,
         (side === 'src' ? 'source' : 'target') + ' sentence ' + id + ' marked untranslated');
}
function moveBoundary(side, down) {  // between the selected link and the next one, on one side
  const i = current;
  if (!sameDocument(i, i + 1)) return say('no next link in this document');
  const key = side === 'src' ? 's' : 't';
  const a = links[i], b = links[i + 1];
  const name = side === 'src' ? 'source' : 'target';
  let mine, theirs;
  if (down) {
    if (!b[key].length) return say('the next link has no ' + name + ' sentence to take');
    mine = a[key].concat([b[key][0]]); theirs = b[key].slice(1);
  } else {
    if (!a[key].length) return say('this link has no ' + name + ' sentence to give');
    mine = a[key].slice(0, -1); theirs = [a[key][a[key].length - 1]].concat(b[key]);
  }
  const first = key === 's' ? edited(a.d, mine, a.t) : edited(a.d, a.s, mine);
  const second = key === 's' ? edited(b.d, theirs, b.t) : edited(b.d, b.s, theirs);
  const kept = [first, second].filter(link => link.s.length || link.t.length);
  change(i, 2, kept, i, name + ' boundary moved ' + (down ? 'down' : 'up'));
}
function setStatus(status) {
  const link = links[current];
  const undoing = link.st === status;
  const changed = Object.assign({}, link, {st: undoing ? (link.was || 'unreviewed') : status,
                                           was: undoing ? undefined : link.st});
  if (changed.st === 'unreviewed' && !link.o) changed.st = 'edited';
  const messages = {confirmed: ['confirmed', 'confirmation taken back'],
                    rejected: ['rejected: left out of the corpus', 'no longer rejected']};
  const advance = !undoing && current + 1 < links.length;
  change(current, 1, [changed], advance ? current + 1 : current, messages[status][undoing ? 1 : 0]);
}
function nextToCheck() {  // the unreviewed link with the lowest score (flagged ones first, if asked)
  const flaggedFirst = queue.value === 'flagged';
  let best = -1, bestKey = null;
  links.forEach((link, i) => {
    if (link.st !== 'unreviewed') return;
    const key = [flaggedFirst && link.flags.length ? 0 : 1, link.score === null ? -1 : link.score];
    if (best < 0 || key[0] < bestKey[0] || (key[0] === bestKey[0] && key[1] < bestKey[1])) {
      best = i;
      bestKey = key;
    }
  });
  if (best < 0) return say('every link is reviewed');
  select(best);
  say('next to check: link ' + (best + 1) + ' of ' + links.length);
}
function startOver() {
  change(0, links.length, original.slice(), 0, 'back to the links as sentaligner wrote them (undo brings your edits back)');
}

function corrections() {
  const documents = docs.map(doc => ({job: doc.job, src_post_id: doc.src_post_id, tgt_post_id: doc.tgt_post_id,
                                      links: []}));
  for (const link of links) documents[link.d].links.push({src_ids: link.s, tgt_ids: link.t, status: link.st});
  return {format: 'sentaligner-corrections', version: 1, result: data.result, result_sha256: data.sha256,
          reviewer: reviewer.value.trim() || null, saved: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          sentaligner: data.version, documents: documents};
}
function correctionsText() {  // one link a line: readable, and small enough for a long novel
  const all = corrections();
  const head = Object.keys(all).filter(key => key !== 'documents')
    .map(key => ' ' + JSON.stringify(key) + ': ' + JSON.stringify(all[key]));
  const documents = all.documents.map(doc => '  {"job": ' + JSON.stringify(doc.job)
    + ', "src_post_id": ' + JSON.stringify(doc.src_post_id)
    + ', "tgt_post_id": ' + JSON.stringify(doc.tgt_post_id) + ', "links": [\n'
    + doc.links.map(link => '   ' + JSON.stringify(link)).join(',\n') + '\n  ]}');
  return '{\n' + head.join(',\n') + ',\n "documents": [\n' + documents.join(',\n') + '\n ]\n}\n';
}
function save() {
  const text = correctionsText();
  if (data.save_url) {
    fetch(data.save_url, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: text})
      .then(response => response.json())
      .then(answer => say(answer.saved ? 'saved to ' + answer.saved : 'not saved: ' + answer.error))
      .catch(error => say('not saved: ' + error));
    return;
  }
  const url = URL.createObjectURL(new Blob([text], {type: 'application/json'}));
  const link = element('a');
  link.href = url;
  link.download = data.save_name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  say('downloaded ' + data.save_name + ': give it to sentaligner apply');
}

const actions = {
  'merge-prev': () => { if (current > 0) { current -= 1; merge(current); } else say('no previous link'); },
  'merge-next': () => merge(current),
  'split': split,
  'untranslated': untranslated,
  'src-up': () => moveBoundary('src', false), 'src-down': () => moveBoundary('src', true),
  'tgt-up': () => moveBoundary('tgt', false), 'tgt-down': () => moveBoundary('tgt', true),
  'confirm': () => setStatus('confirmed'), 'reject': () => setStatus('rejected'),
  'undo': undo, 'redo': redo, 'next': nextToCheck, 'save': save, 'start-over': startOver,
  'help': () => { const help = document.getElementById('keys-help'); help.hidden = !help.hidden; fitHeader(); },
};
const keys = {  // a letter by its lower case; Shift+M is the one letter Shift changes
  'm': 'merge-next', 'M': 'merge-prev', 's': 'split', 'u': 'untranslated', '[': 'src-up', ']': 'src-down',
  '{': 'tgt-up', '}': 'tgt-down', 'c': 'confirm', 'Enter': 'confirm', 'r': 'reject', 'Delete': 'reject',
  'n': 'next', '?': 'help',
};
function keyName(event) {  // a letter key as Shift makes it, whatever Caps Lock says
  const key = event.key;
  if (key.length !== 1 || key.toLowerCase() === key.toUpperCase()) return key;
  return event.shiftKey && keys[key.toUpperCase()] ? key.toUpperCase() : key.toLowerCase();
}
document.addEventListener('keydown', event => {
  if (event.target.closest && event.target.closest('input, select, textarea')) return;
  const ctrl = event.ctrlKey || event.metaKey;
  let action = null;
  if (ctrl) {
    const key = event.key.toLowerCase();
    if (key === 'z') action = event.shiftKey ? 'redo' : 'undo';
    else if (key === 'y') action = 'redo';
    else if (key === 's') action = 'save';
  } else if (!event.altKey) {
    const key = keyName(event);
    const move = {'ArrowDown': 1, 'j': 1, 'ArrowUp': -1, 'k': -1, 'PageDown': 10, 'PageUp': -10}[key];
    if (move) {
      select(Math.max(0, Math.min(links.length - 1, current + move)));
      event.preventDefault();
      return;
    }
    if (event.key === 'Home' || event.key === 'End') {
      select(event.key === 'Home' ? 0 : links.length - 1);
      event.preventDefault();
      return;
    }
    if (event.key === 'ArrowLeft' || event.key === 'ArrowRight') {
      cursor += event.key === 'ArrowRight' ? 1 : -1;
      showSelection(false);
      event.preventDefault();
      return;
    }
    action = keys[key] || null;
  }
  if (action && links.length) { event.preventDefault(); actions[action](); }
});
document.querySelectorAll('button[data-action]').forEach(button =>
  button.addEventListener('click', () => { if (links.length) actions[button.dataset.action](); }));
list.addEventListener('click', event => {
  const row = event.target.closest('.link');
  if (!row) return;
  const span = event.target.closest('.sent');
  select(rows.indexOf(row), span ? Number(span.dataset.k) : 0);
});
reviewer.addEventListener('change', keep);
reviewer.addEventListener('keydown', event => { if (event.key === 'Enter') reviewer.blur(); });
queue.addEventListener('change', () => { queue.blur(); nextToCheck(); });  // keys go back to the links

function fitHeader() {  // rows scrolled into view stay clear of the sticky header
  document.documentElement.style.scrollPaddingTop = (document.querySelector('header').offsetHeight + 8) + 'px';
}
window.addEventListener('resize', fitHeader);

(function start() {
  let stored = null;
  try { stored = JSON.parse(localStorage.getItem(storageKey)); } catch (error) { stored = null; }
  if (stored && stored.sha256 === data.sha256 && Array.isArray(stored.links)) {
    links = stored.links;
    reviewer.value = stored.reviewer || '';
    current = stored.current || 0;
    say('restored the review kept in this browser at ' + stored.time + ' (Start over discards it)');
  }
  fitHeader();
  drawAll();
  showProgress();
  showSelection(true);
  performance.mark('review-ready');  // benchmarks/review.py times the page by it
})();
