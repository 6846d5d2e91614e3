// The example conversation shown on the start page and in the docs.

export const EXAMPLE_COMMAND = '/bisect v1.4.0 main -- npm test -- -t "parses dates"';

export function ExampleComment() {
  return (
    <figure className="comment">
      <figcaption>
        <strong>maintainer</strong> commented
      </figcaption>
      <pre>
        <code>{EXAMPLE_COMMAND}</code>
      </pre>
    </figure>
  );
}

/** A status comment as the real renderer wrote it, turned into HTML on the server (fixed sample data). */
export function RenderedAnswer({ html }: { html: string }) {
  return (
    <figure className="comment bot">
      <figcaption>
        <strong>bisect-bot</strong> <span className="tag">bot</span> replied
      </figcaption>
      <div className="comment-body" dangerouslySetInnerHTML={{ __html: html }} />
    </figure>
  );
}

export function BotAnswer() {
  return (
    <figure className="comment bot">
      <figcaption>
        <strong>bisect-bot</strong> <span className="tag">bot</span> replied
      </figcaption>
      <div className="comment-body">
        <p>
          <strong>First bad commit: a1b2c3d</strong> — “Parse dates in local time” by @someone
        </p>
        <p>
          Found between <code>v1.4.0</code> (good) and <code>main</code> (bad): 212 commits, 4
          rounds, 11 runs, 2 min 10 s.
        </p>
        <table>
          <caption className="visually-hidden">Rounds of the bisection</caption>
          <thead>
            <tr>
              <th scope="col">Round</th>
              <th scope="col">Tested</th>
              <th scope="col">Candidates left</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>1</td>
              <td>3 commits: good, bad, bad</td>
              <td>53</td>
            </tr>
            <tr>
              <td>2</td>
              <td>3 commits: good, good, bad</td>
              <td>13</td>
            </tr>
            <tr>
              <td>3</td>
              <td>3 commits: bad, bad, bad</td>
              <td>3</td>
            </tr>
            <tr>
              <td>4</td>
              <td>2 commits: good, bad</td>
              <td>1</td>
            </tr>
          </tbody>
        </table>
        <p className="muted">
          Logs and every step are on the dashboard. Reply /bisect retry to run it again.
        </p>
      </div>
    </figure>
  );
}
