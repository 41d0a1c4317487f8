// The account and admin pages, one lazily loaded chunk (app.tsx): only signed-in users of
// a server with --auth who open them download it.
export { PasswordView } from './PasswordView';
export { TokensView } from './TokensView';
export { UsersView } from './UsersView';
export { UserView } from './UserView';
