import { render } from 'preact';
import { App } from './app';
import { loadSession } from './auth/session';
import './styles.css';

loadSession();
render(<App />, document.getElementById('app') as HTMLElement);
