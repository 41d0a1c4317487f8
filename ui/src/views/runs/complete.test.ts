import { describe, expect, it } from 'vitest';
import { acceptCompletion, candidates, quoteKey, tokenAt } from './complete';

const keys = {
  params: ['lr', 'batch_size', 'dropout rate'],
  metrics: ['loss', 'val.loss', 'accuracy'],
  tags: ['team', 'mlflow.user'],
};

describe('filter completion', () => {
  it('quotes keys that are not plain identifiers', () => {
    expect(quoteKey('batch_size')).toBe('batch_size');
    expect(quoteKey('val.loss')).toBe('`val.loss`');
    expect(quoteKey('dropout rate')).toBe('`dropout rate`');
    expect(quoteKey('a`b')).toBe('`ab`');
  });

  it('finds the word under the cursor', () => {
    expect(tokenAt('par', 3)).toEqual({ start: 0, end: 3, typed: 'par' });
    expect(tokenAt('metrics.loss < 1 AND par', 24)).toEqual({ start: 21, end: 24, typed: 'par' });
    // In the middle of a word: the whole word is replaced, the part before is matched.
    expect(tokenAt('params.lr = 1', 4)).toEqual({ start: 0, end: 9, typed: 'para' });
    expect(tokenAt('(metrics.lo', 11)).toEqual({ start: 1, end: 11, typed: 'metrics.lo' });
    // A backticked key with a space is one word.
    expect(tokenAt('params.`dropout r', 17)).toEqual({
      start: 0,
      end: 17,
      typed: 'params.`dropout r',
    });
  });

  it('offers nothing where no key belongs', () => {
    expect(tokenAt('', 0)).toBeNull();
    expect(tokenAt('params.lr ', 10)).toBeNull();
    expect(tokenAt("params.lr = 'ab", 15)).toBeNull();
    expect(tokenAt("tags.x = 'it\\'s", 15)).toBeNull();
    expect(tokenAt('metrics.loss < 0', 16)).toBeNull();
    expect(tokenAt('params.lr != 0', 14)).toBeNull();
    expect(tokenAt('tags.x LIKE ab', 14)).toBeNull();
    expect(tokenAt('tags.x not ilike ab', 19)).toBeNull();
    // After a closed string, keys belong again.
    expect(tokenAt("tags.x = 'a' AND me", 19)?.typed).toBe('me');
  });

  it('ranks whole-name prefixes, then key prefixes, then substrings', () => {
    expect(candidates(keys, 'metrics.')).toEqual([
      'metrics.accuracy',
      'metrics.loss',
      'metrics.`val.loss`',
    ]);
    expect(candidates(keys, 'lo')).toEqual([
      'metrics.loss',
      'metrics.`val.loss`',
      'tags.`mlflow.user`',
    ]);
    expect(candidates(keys, 'LOSS')).toEqual(['metrics.loss', 'metrics.`val.loss`']);
    expect(candidates(keys, 'st')).toEqual([
      'attributes.start_time',
      'attributes.status',
      'attributes.lifecycle_stage',
    ]);
    expect(candidates(keys, 'params.`dropout')).toEqual(['params.`dropout rate`']);
    expect(candidates(keys, 'attr').length).toBe(8);
    expect(candidates(keys, 'a', 2)).toHaveLength(2);
    expect(candidates(keys, '')).toEqual([]);
  });

  it('does not offer what is already typed in full', () => {
    expect(candidates(keys, 'params.lr')).toEqual([]);
  });

  it('replaces the word and puts the cursor after a space', () => {
    const text = "metrics.lo < 1 AND params.lr = '1'";
    const t = tokenAt(text, 10);
    expect(t).not.toBeNull();
    if (!t) return;
    expect(acceptCompletion(text, t, 'metrics.loss')).toEqual({
      text: "metrics.loss < 1 AND params.lr = '1'",
      cursor: 13,
    });
    const t2 = tokenAt('para', 4);
    if (!t2) throw new Error('token');
    expect(acceptCompletion('para', t2, 'params.lr')).toEqual({ text: 'params.lr ', cursor: 10 });
  });
});
