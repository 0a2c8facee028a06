#!/usr/bin/perl
# The asset list's filters (issue 19): project, folder, tag, field.NAME,
# status, owner, created_from/created_to, combined with each other, with q,
# the sorts and the keyset cursor, scoped to the caller's projects; the
# facets they read (schema 020) follow every change of the asset; bad
# filters are 400.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use lib "$FindBin::Bin/../bench/lib";
use Test::More;
use Mam::Stack;
use Mam::Sql qw(sql_text session_sql);

# the cursors and times in a query string (base64url and digits need none
# but '+' and ':')
sub uri_escape_utf8 { my ($v) = @_; $v =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ge; return $v }

my $s = Mam::Stack->new;
$s->start;

my $admin = $s->register('admin@example.com');
my $m = $s->register('manager@example.com');
my $x = $s->register('member@example.com');
my ($A, $M) = ($admin->{access_token}, $m->{access_token});

my $P1 = $s->api(POST => '/api/projects', { name => 'One' }, token => $M)->{json}{project}{id};
my $P2 = $s->api(POST => '/api/projects', { name => 'Two' }, token => $M)->{json}{project}{id};
is($s->api(POST => "/api/projects/$P1/members", { user_id => $x->{user}{id}, role => 'editor' },
           token => $M)->{status}, 201, 'the member joins project One only');
$x = $s->login('member@example.com');
my $X = $x->{access_token};

# the assets, oldest first
my %a;
$a{$_->[0]} = $s->create_asset($_->[2], project_id => $_->[1], title => $_->[3])
    for ([a1 => $P1, $M, 'Alpha harbour'], [a2 => $P1, $M, 'Bravo'], [a3 => $P1, $M, 'Charlie'],
         [b1 => $P2, $M, 'Delta harbour'], [x1 => $P1, $X, 'Echo']);
my %name = map { $a{$_}{id} => $_ } keys %a;

# tags, field values and a folder through the API (stored normalized: tags
# lower-cased and sorted, a number in one form)
for my $f ([client => 'text'], [genre => 'multi_choice', [qw(doc news)]], [n => 'number']) {
    my $r = $s->api(POST => "/api/projects/$P1/fields",
                    { name => $f->[0], label => ucfirst $f->[0], kind => $f->[1],
                      ($f->[2] ? (choices => $f->[2]) : ()) }, token => $M);
    die "field $f->[0]: $r->{status} $r->{content}\n" unless $r->{status} == 201;
}
sub patch {
    my ($who, $body) = @_;
    my $r = $s->api(PATCH => "/api/assets/$a{$who}{id}", $body, token => $M);
    die "PATCH $who: $r->{status} $r->{content}\n" unless $r->{status} == 200;
}
patch(a1 => { tags => ['Red', ' blue'] });
patch(a2 => { tags => ['red'] });
patch(a3 => { fields => { client => 'Acme', genre => [qw(news doc)], n => 5.0 } });
patch(b1 => { tags => ['RED'] });
my $F = $s->api(POST => "/api/projects/$P1/folders", { name => 'Cuts' }, token => $M)->{json}{folder}{id};
patch(a2 => { folder_id => $F });

sub psql1 { chomp(my $v = $s->psql($_[0])); return $v }

sub word_count { return scalar(() = $_[0] =~ /\S+/g) }

sub names {
    my ($query, $token) = @_;
    my $r = $s->api(GET => "/api/assets?$query", undef, token => $token);
    return "$r->{status} " . ($r->{content} // '') unless $r->{status} == 200;
    return join ' ', map { $name{$_->{id}} // '?' } @{ $r->{json}{items} };
}

is(names('tag=red', $A), 'b1 a2 a1', 'tag: an admin gets every project\'s, newest first');
is(names('tag=red', $X), 'a2 a1', '... a member only their projects\'');
is(names('tag=RED', $X), 'a2 a1', 'filters ignore case');
is(names('tag=%20red%20', $X), 'a2 a1', '... and the spaces around a value');
is(names("project=$P2", $X), '', 'project: one the caller is no member of is an empty page');
is(names("project=$P2", $M), 'b1', '... its member gets its assets');
is(names("project=$P1&sort=title", $M), 'a1 a2 a3 x1', '... by title');
is(names('field.client=acme', $X), 'a3', 'field: a text value');
is(names('field.genre=news', $X), 'a3', '... one of a multi-value field\'s');
is(names('field.n=5', $X), 'a3', '... a number');
is(names('field.client=acm', $X), '', '... the whole value only');
is(names("folder=$F", $X), 'a2', 'folder');
is(names("owner=$x->{user}{id}", $M), 'x1', 'owner');
is(names('status=none', $X), 'x1 a3 a2 a1', 'status: none before a version');
is(names('tag=red&tag=blue', $X), 'a1', 'two filters are both required');
is(names("tag=red&project=$P1", $A), 'a2 a1', '... of different kinds');
is(names("project=$P1&tag=red", $X), 'a2 a1', 'a tag in a project: its member gets its assets');
is(names("tag=red&project=$P2", $M), 'b1', '... a member of the other its own');
is(names("tag=red&project=$P2", $X), '', '... one the caller is no member of is an empty page');
is(names("tag=red&project=$P2", $A), 'b1', '... an admin gets any project\'s');
is(names("folder=$F&project=$P2", $A), '', '... a folder of another project holds none of it');
is(names('tag=red&q=harbour', $A), 'b1 a1', 'with q: the matches that pass the filters');
is(names('tag=red&q=harbour', $X), 'a1', '... in the caller\'s projects');
is(names('tag=red&q=harbour&sort=title', $A), 'a1 b1', '... by title');
is(names('q=harbour&sort=created_at', $X), 'a1', 'q alone is unchanged');

# the time range: from inclusive, to exclusive
chomp(my $t2 = $s->psql(qq{SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                     FROM assets WHERE id = '$a{a2}{id}'}));
is(names("created_from=$t2&project=$P1", $M), 'x1 a3 a2', 'created_from is inclusive');
is(names("created_to=$t2&project=$P1", $M), 'a1', 'created_to is exclusive');
is(names('created_from=' . uri_escape_utf8($t2), $X), 'x1 a3 a2', 'a time range alone');
is(names('created_from=2000-01-01&created_to=2000-01-02', $A), '', '... that holds nothing');

# pages: limit 1 walks the filtered list in order, each cursor once
for my $filter ("project=$P1", 'tag=red', "tag=red&project=$P1", "tag=red&status=none") {
    for my $sort ('-created_at', 'created_at', 'title') {
        my ($seen, $cursor, $pages) = ('', undef, 0);
        do {
            my $r = $s->api(GET => "/api/assets?$filter&sort=$sort&limit=1"
                                   . ($cursor ? '&cursor=' . uri_escape_utf8($cursor) : ''),
                            undef, token => $X);
            die "page: $r->{status}\n" unless $r->{status} == 200;
            $seen .= join '', map { ' ' . $name{$_->{id}} } @{ $r->{json}{items} };
            $cursor = $r->{json}{next_cursor};
        } while ($cursor && ++$pages < 10);
        my $want = names("$filter&sort=$sort&limit=100", $X);
        is(substr($seen, 1), $want, "$filter: pages of 1 ($sort) give the whole filtered list");
        cmp_ok(word_count($want), '>=', 2, '... of several assets');
    }
}

# the facets follow the asset
$s->api(PATCH => "/api/assets/$a{a1}{id}", { title => 'Zulu' }, token => $M);
is(names("tag=red&sort=title", $X), 'a2 a1', 'a new title moves the asset in the title order');
is($s->api(PATCH => "/api/assets/$a{a1}{id}", { project_id => $P2 }, token => $M)->{status}, 200,
   'the manager moves a1 to project Two');
is(names('tag=red', $X), 'a2', '... which the member no longer sees');
is(names("project=$P2", $M), 'b1 a1', '... and is in Two\'s list');
is($s->api(DELETE => "/api/assets/$a{a2}{id}", undef, token => $M)->{status}, 204, 'a2 is deleted');
is(names('tag=red', $A), 'b1 a1', '... and in no filtered list');
is(psql1(qq{SELECT count(*) FROM asset_facets WHERE asset_id = '$a{a2}{id}'}), 0,
   '... nor in asset_facets');
is(psql1(qq{SELECT count(*) = cardinality(max(a.facets)) + 1 FROM asset_facets f
               JOIN assets a ON a.id = f.asset_id WHERE a.id = '$a{a3}{id}'}), 't',
   'a live asset has a row per facet and "*"');
is(psql1(qq{SELECT array_to_string(facets, ' ') FROM assets WHERE id = '$a{a3}{id}'}),
   "a:none f:client=acme f:genre=doc f:genre=news f:n=5 o:$m->{user}{id} p:$P1 s:none",
   'the facets of a3');

# a version changes the status
is($s->api(POST => '/api/promote', { asset_id => $a{x1}{id} }, token => $X)->{status}, 201,
   'x1 gets a version');
is(names("status=none&project=$P1", $X), 'a3', 'status none no longer has it');
like(names("project=$P1", $X), qr/^x1 /, '... it is still in its project');
isnt(names("status=none&project=$P1", $X), names("project=$P1", $X), '... with a status other than none');

# the rows of folders, tags and field values carry the item (schema 024):
# a change of the item alone reaches them, and a tag's page shows it
$s->api(PATCH => "/api/assets/$a{a1}{id}", { description => 'Now described' }, token => $M);
my ($a1) = grep { $_->{id} eq $a{a1}{id} }
           @{ $s->api(GET => '/api/assets?tag=red', undef, token => $A)->{json}{items} };
is($a1->{description}, 'Now described', 'a tag\'s page shows the asset\'s new description');
is(psql1(q{SELECT count(*) FROM asset_facets f JOIN assets a ON a.id = f.asset_id
            WHERE mam_facet_has_item(f.token)
              AND (f.item IS DISTINCT FROM a.item OR f.facets IS DISTINCT FROM a.facets)}), 0,
   'every row of a folder, a tag or a field value holds its asset\'s item and facets');
is(psql1(q{SELECT count(*) FROM asset_facets WHERE mam_facet_has_item(token)}) > 0 ? 1 : 0, 1,
   '... of which there are some');
is(psql1(q{SELECT count(*) FROM asset_facets WHERE NOT mam_facet_has_item(token)
              AND (item IS NOT NULL OR facets IS NOT NULL)}), 0,
   '... and the project\'s, owner\'s, status\' and "*" rows hold none');

# bad filters
for my $bad (['project=nope', 'project'], ['folder=' . uc($F), 'folder'],
             ['owner=1', 'owner'], ['status=done', 'status'], ['field.Bad=x', 'field.NAME'],
             ['field.=x', 'field.NAME'], ['field.a=', 'field.NAME'], ['field.a=%20', 'field.NAME'],
             ['tag=', 'tag'], ['tag=' . ('x' x 201), 'tag'], ['tag=%01', 'tag'],
             ['created_from=2026-02-30', 'created_from'], ['created_to=yesterday', 'created_to'],
             ['created_from=2026-12-01T25:00', 'created_from'],
             [join('&', map { "tag=t$_" } 1 .. 9), 'at most 8']) {
    my $r = $s->api(GET => "/api/assets?$bad->[0]", undef, token => $X);
    is($r->{status}, 400, "$bad->[0]: 400");
    like($r->{json}{message} // '', qr/^\Q$bad->[1]\E/, '... naming it');
}
is(names(join('&', map { "tag=t$_" } 1 .. 8), $X), '', 'eight filters are fine');
is(names('tag=red&tag=red&tag=red&tag=red&tag=red&tag=red&tag=red&tag=red&tag=red', $A), 'b1 a1',
   'a repeated filter counts once');
is(names('unknown=1&tag=red', $A), 'b1 a1', 'an argument that is no filter is ignored');

# the generic plans over many assets: a project's page reads the project's
# own index of assets in order (no row of asset_facets, no sort), a tag's
# page the tag's rows of asset_facets in order (no asset: they hold its item)
sub bulk {
    my ($from, $to) = @_;
    $s->psql(qq{INSERT INTO assets (user_id, project_id, title, tags, created_at, updated_at)
                SELECT '$m->{user}{id}', '$P2', 'Bulk ' || g, CASE WHEN g % 10 = 0 THEN '{red}' ELSE '{}' END::text[],
                       now() - g * interval '1 second', now()
                  FROM generate_series($from, $to) g;
                ANALYZE assets; ANALYZE asset_facets});
}
# with some thousands of assets too the member's list reads the live index
# in order: allowed an incremental sort, PostgreSQL would read the seed's
# index on created_at alone and sort each page's rows (the module's
# sessions turn it off: ngx_mam_pg.c, NGX_MAM_PG_SESSION_OPTIONS)
bulk(1, 3000);
{
    my $explain = $s->psql(session_sql() . 'PREPARE q AS ' . sql_text('NGX_MAM_SQL_ASSET_LIST')
                           . "; EXPLAIN (COSTS OFF) EXECUTE q(25, '$m->{user}{id}')");
    like($explain, qr/Index Scan Backward using assets_live_created_idx on assets/,
         'NGX_MAM_SQL_ASSET_LIST over 3,000 assets: reads the live index in order') or diag($explain);
    unlike($explain, qr/Sort/, '... with no sort') or diag($explain);
}
bulk(3001, 20000);
for my $c (['NGX_MAM_SQL_ASSET_LIST_PROJECT', "'$P2', 25, '', '$m->{user}{id}'",
            qr/Index Scan Backward using assets_project_created_idx on assets/, 'asset_facets'],
           ['NGX_MAM_SQL_ASSET_LIST_FILTERED', "'t:red', 25, 'p:$P2', '$m->{user}{id}'",
            qr/Index Scan Backward using asset_facets_created_idx on asset_facets/, 'on assets'],
           ['NGX_MAM_SQL_ASSET_LIST_IN_PROJECT', "'t:red', 25, '$P2', '$m->{user}{id}'",
            qr/One-Time Filter(?s:.*)Index Scan Backward using asset_facets_created_idx on asset_facets/,
            'on assets']) {
    my ($name, $args, $want, $not) = @$c;
    my $explain = $s->psql(session_sql() . 'PREPARE q AS ' . sql_text($name)
                           . "; EXPLAIN (COSTS OFF) EXECUTE q($args)");
    like($explain, $want, "$name: its generic plan reads in order");
    unlike($explain, qr/Sort|\Q$not\E/, '... with no sort, nor ' . $not) or diag($explain);
}
my $page = $s->api(GET => "/api/assets?project=$P2&limit=3", undef, token => $M)->{json};
is(join(' ', map { $_->{id} } @{ $page->{items} }),
   join(' ', split /\n/, $s->psql(qq{SELECT id FROM assets WHERE project_id = '$P2' AND deleted_at IS NULL
                                     ORDER BY created_at DESC, id DESC LIMIT 3})),
   '... and the page is the project\'s newest three');

# a member of small projects among many assets (the 20,000 of Two): the
# unfiltered list reads a bounded prefix of the live index, then merges the
# member's projects' own pages, and pages through exactly their assets
my $P3 = $s->api(POST => '/api/projects', { name => 'Three' }, token => $M)->{json}{project}{id};
is($s->api(POST => "/api/projects/$P3/members", { user_id => $x->{user}{id}, role => 'viewer' },
           token => $M)->{status}, 201, 'the member joins project Three too');
$X = $s->login('member@example.com')->{access_token};
for my $n (1 .. 3) {
    my $c = $s->create_asset($M, project_id => $P3, title => "Foxtrot $n");
    $name{$c->{id}} = "c$n";
}
# (x1 of One newest: the projects' assets interleave)
$s->psql(qq{UPDATE assets SET created_at = now() WHERE id = '$a{x1}{id}'});
for my $sort ('-created_at', 'created_at', 'title') {
    my ($seen, $cursor, $pages) = ('', undef, 0);
    do {
        my $r = $s->api(GET => "/api/assets?sort=$sort&limit=2"
                               . ($cursor ? '&cursor=' . uri_escape_utf8($cursor) : ''),
                        undef, token => $X);
        die "page: $r->{status}\n" unless $r->{status} == 200;
        $seen .= join '', map { ' ' . ($name{$_->{id}} // 'other') } @{ $r->{json}{items} };
        $cursor = $r->{json}{next_cursor};
    } while ($cursor && ++$pages < 20);
    my $order = { '-created_at' => 'created_at DESC, id DESC', created_at => 'created_at, id',
                  title => 'title, id' }->{$sort};
    my $want = join ' ', map { $name{$_} // 'other' } split /\n/,
        $s->psql(qq{SELECT id FROM assets WHERE project_id IN ('$P1', '$P3') AND deleted_at IS NULL
                    ORDER BY $order});
    is(substr($seen, 1), $want, "a member of two small projects: pages of 2 ($sort) give their assets");
    is($want, { '-created_at' => 'x1 c3 c2 c1 a3', created_at => 'a3 c1 c2 c3 x1',
                title => 'a3 x1 c1 c2 c3' }->{$sort}, '... of both projects, interleaved');
}
# ... reading at most the scan's prefix, then each project's page
for my $c (['NGX_MAM_SQL_ASSET_LIST', 256], ['NGX_MAM_SQL_ASSET_LIST_MERGE', 3]) {
    my ($name, $bound) = @$c;
    my $explain = $s->psql(session_sql() . 'PREPARE q AS ' . sql_text($name)
                           . "; EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE q(3, '$x->{user}{id}')");
    my @scans = $explain =~ /Index Scan[^\n]* on assets [^\n]*actual rows=(\d+)/g;
    ok(@scans, "$name: its generic plan reads an index of assets") or diag($explain);
    cmp_ok((sort { $b <=> $a } @scans)[0], '<=', $bound, "... at most $bound rows per scan")
        or diag($explain);
    unlike($explain, qr/Rows Removed by Filter: \d{3}/, '... and drops none of them on the way')
        or diag($explain);
}
like($s->psql(session_sql() . 'PREPARE q AS '
              . sql_text('NGX_MAM_SQL_ASSET_LIST_MERGE') . "; EXPLAIN (COSTS OFF) EXECUTE q(3, '$x->{user}{id}')"),
     qr/Index Scan Backward using assets_project_created_idx/, '... the merge each project\'s own index');

$s->check_error_log;
done_testing;
