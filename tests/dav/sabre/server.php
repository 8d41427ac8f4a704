<?php
/* sabre/dav (Debian php-sabre-dav 1.8, the engine of Baikal 0.2) for the
 * DAV tests: CardDAV + CalDAV on a throwaway SQLite database, Basic auth.
 * Run by tests/dav/sabre.sh as `php -S 127.0.0.1:PORT server.php` with
 * DAV_DB (the SQLite file) and DAV_USERS (lines "user:password") in the
 * environment. A user of DAV_USERS gets a principal on first login, so a
 * test adds users by appending lines. No sync-collection (this version has
 * none): clients list by ctag and etag. Base URI /dav.php/;
 * /.well-known/carddav|caldav answer 301 to it. */
date_default_timezone_set('UTC');
/* sabre/dav 1.8 predates PHP 8: its deprecation notices (dynamic
 * properties ...) go to the log, never into an answer */
error_reporting(E_ALL & ~E_DEPRECATED & ~E_STRICT);
ini_set('display_errors', '0');
ini_set('log_errors', '1');
require_once 'Sabre/autoload.php';

$uri = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if (preg_match('#^/\.well-known/(carddav|caldav)/?$#', $uri)) {
    header('Location: /dav.php/', true, 301);
    exit;
}
if (strpos($uri, '/dav.php') !== 0) {
    header('Location: /dav.php/', true, 301);
    exit;
}

$pdo = new PDO('sqlite:' . getenv('DAV_DB'));
$pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
$pdo->exec('PRAGMA busy_timeout = 10000');

class UserFileAuth extends \Sabre\DAV\Auth\Backend\AbstractBasic {
    private $pdo;
    function __construct($pdo) { $this->pdo = $pdo; }
    protected function validateUserPass($user, $pass) {
        $ok = false;
        foreach (@file(getenv('DAV_USERS'), FILE_IGNORE_NEW_LINES) ?: array() as $l)
            if ($l === $user . ':' . $pass)
                $ok = true;
        if (!$ok)
            return false;
        $p = 'principals/' . $user;
        $st = $this->pdo->prepare('INSERT OR IGNORE INTO principals (uri, email, displayname) VALUES (?, ?, ?)');
        $st->execute(array($p, $user . '@example.org', $user));
        $st->execute(array($p . '/calendar-proxy-read', null, null));
        $st->execute(array($p . '/calendar-proxy-write', null, null));
        return true;
    }
}

$principals = new \Sabre\DAVACL\PrincipalBackend\PDO($pdo);
$carddav = new \Sabre\CardDAV\Backend\PDO($pdo);
$caldav = new \Sabre\CalDAV\Backend\PDO($pdo);
$server = new \Sabre\DAV\Server(array(
    new \Sabre\CalDAV\Principal\Collection($principals),
    new \Sabre\CalDAV\CalendarRootNode($principals, $caldav),
    new \Sabre\CardDAV\AddressBookRoot($principals, $carddav),
));
$server->setBaseUri('/dav.php/');
$server->addPlugin(new \Sabre\DAV\Auth\Plugin(new UserFileAuth($pdo), 'tsps'));
$server->addPlugin(new \Sabre\CalDAV\Plugin());
$server->addPlugin(new \Sabre\CardDAV\Plugin());
$server->addPlugin(new \Sabre\DAVACL\Plugin());
$server->exec();
