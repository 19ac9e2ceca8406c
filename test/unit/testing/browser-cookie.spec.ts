import { describe, expect, it } from '@jest/globals';
import { toBrowserCookie } from 'nest-session/testing';

describe('toBrowserCookie()', () => {
  it("gives Playwright's and Cypress's cookie for each pair of a Cookie header, on the app's host", () => {
    expect(toBrowserCookie('nest_session=abc.def', { url: 'http://localhost:3000/dashboard' })).toEqual([
      {
        name: 'nest_session',
        value: 'abc.def',
        domain: 'localhost',
        path: '/',
        httpOnly: true,
        secure: false,
      },
    ]);
    const both = toBrowserCookie('nest_session=a.b; nest_session_cookie=sealed', {
      url: new URL('https://app.example.test'),
      path: '/app',
      httpOnly: false,
    });
    expect(both).toEqual([
      {
        name: 'nest_session',
        value: 'a.b',
        domain: 'app.example.test',
        path: '/app',
        httpOnly: false,
        secure: true,
      },
      {
        name: 'nest_session_cookie',
        value: 'sealed',
        domain: 'app.example.test',
        path: '/app',
        httpOnly: false,
        secure: true,
      },
    ]);
  });

  it('refuses what is not a Cookie header value, and a URL that is none', () => {
    expect(() => toBrowserCookie('', { url: 'http://localhost' })).toThrow('cookie is a Cookie header value');
    expect(() => toBrowserCookie('a=b', { url: '/dashboard' })).toThrow('Invalid URL');
  });
});
