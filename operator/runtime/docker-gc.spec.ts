import { describe, expect, it } from 'vitest';
import type Dockerode from 'dockerode';
import { isLocalEndpoint, pulledCandidates } from './docker-gc.ts';

describe('isLocalEndpoint', () => {
  it.each([
    ['unix:///var/run/docker.sock', true],
    ['http://127.0.0.1:2375', true],
    ['https://localhost:2376', true],
    ['http://::1:2375', true],
    ['https://10.0.0.2:2376', false],
    ['http://docker.example.com:2375', false],
    ['http://127.example.com:2375', false],
  ])('%s -> %s', (endpoint, expected) => {
    expect(isLocalEndpoint(endpoint)).toBe(expected);
  });
});

describe('pulledCandidates', () => {
  const d = (c: string): string => `sha256:${c.repeat(64)}`;
  const img = (id: string, RepoDigests: string[] | null, RepoTags: string[] = []): Dockerode.ImageInfo =>
    ({ Id: id, RepoDigests, RepoTags, Created: 1, Labels: {}, ParentId: '', Size: 0, VirtualSize: 0, SharedSize: 0, Containers: 0 }) as unknown as Dockerode.ImageInfo;

  it('matches digest references by normalised repository, keeps only the managed ones, one candidate per repository', () => {
    const images = [
      img('a', [`reg:5000/gc/app@${d('1')}`, `reg:5000/gc/app@${d('2')}`, `reg:5000/other@${d('3')}`], ['reg:5000/other:1']),
      img('b', [`nginx@${d('4')}`]),
      img('c', [`reg:5000/other@${d('5')}`]),
      img('e', null, ['reg:5000/gc/app:1']),
      img('f', ['<none>@<none>']),
    ];
    const got = pulledCandidates(images, new Set(['reg:5000/gc/app', 'docker.io/library/nginx']));
    expect(got.map((c) => [c.image.Id, c.repository, c.digestRefs])).toEqual([
      ['a', 'reg:5000/gc/app', [`reg:5000/gc/app@${d('1')}`, `reg:5000/gc/app@${d('2')}`]],
      ['b', 'docker.io/library/nginx', [`nginx@${d('4')}`]],
    ]);
    expect(pulledCandidates(images, new Set())).toEqual([]);
  });
});
