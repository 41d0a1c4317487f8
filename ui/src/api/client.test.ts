import { describe, expect, it } from 'vitest';
import {
  artifactUrl,
  experimentNameFilter,
  loggedModelFileUrl,
  nameOrFilter,
  queryString,
  quote,
  requestHeaders,
} from './client';

describe('api helpers', () => {
  it('repeats array parameters', () => {
    expect(queryString({ run_ids: ['a', 'b'], metric_key: 'loss', x: undefined })).toBe(
      '?run_ids=a&run_ids=b&metric_key=loss',
    );
  });

  it('maps mlflow-artifacts URIs onto the artifact proxy', () => {
    expect(artifactUrl('mlflow-artifacts:/1/abc/artifacts', 'plots/a b.png')).toBe(
      '/ajax-api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/plots/a%20b.png',
    );
    expect(artifactUrl('mlflow-artifacts://host:5000/1/abc/artifacts', 'x.txt')).toBe(
      '/ajax-api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/x.txt',
    );
    expect(artifactUrl('s3://bucket/1/abc', 'x.txt')).toBeUndefined();
  });

  it('quotes experiment name searches', () => {
    expect(experimentNameFilter("it's")).toBe("name ILIKE '%it\\'s%'");
    expect(experimentNameFilter('  ')).toBe('');
  });

  it('quotes search-language strings', () => {
    expect(quote("a'b\\c")).toBe("'a\\'b\\\\c'");
  });

  it("addresses a logged model's files through the proxy, else its files endpoint", () => {
    expect(loggedModelFileUrl('m-1', 'mlflow-artifacts:/1/models/m-1/artifacts', 'MLmodel')).toBe(
      '/ajax-api/2.0/mlflow-artifacts/artifacts/1/models/m-1/artifacts/MLmodel',
    );
    expect(loggedModelFileUrl('m-1', 's3://b/m-1', 'a b.txt')).toBe(
      '/ajax-api/2.0/mlflow/logged-models/m-1/artifacts/files?artifact_file_path=a+b.txt',
    );
  });
});

describe('nameOrFilter', () => {
  it('matches names containing plain text, quoted for the search language', () => {
    expect(nameOrFilter('cls')).toBe("name ILIKE '%cls%'");
    expect(nameOrFilter(" it's ")).toBe("name ILIKE '%it\\'s%'");
    expect(nameOrFilter('')).toBe('');
  });
  it('passes a filter with a comparison through as typed', () => {
    expect(nameOrFilter(" tags.team = 'vision' ")).toBe("tags.team = 'vision'");
    expect(nameOrFilter("name like 'cls-%'")).toBe("name like 'cls-%'");
    expect(nameOrFilter("tags.stage != 'dev'")).toBe("tags.stage != 'dev'");
  });
});

describe('requestHeaders', () => {
  it('sends the CSRF token on every write once known, never on reads', () => {
    expect(requestHeaders('GET', 'tok')).toEqual({});
    for (const m of ['POST', 'PATCH', 'DELETE'] as const)
      expect(requestHeaders(m, 'tok')).toEqual({
        'Content-Type': 'application/json',
        'X-CSRF-Token': 'tok',
      });
    expect(requestHeaders('POST', undefined)).toEqual({ 'Content-Type': 'application/json' });
  });
});
