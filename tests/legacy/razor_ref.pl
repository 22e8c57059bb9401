#!/usr/bin/perl
# razor_ref.pl: the reference side of the Razor cross-check. Drives the real razor-agents
# modules (/usr/share/perl5/Razor2) through the same calls razor-check -H makes
# (parse_mbox -> prepare_objects -> compute_sigs), offline: get_server_info() and every
# network call are skipped, the engines and ep4 are set as a server greeting would.
#
# usage: razor_ref.pl [-ep4=7542-10] [-v] FILE...   (or a list of files on stdin with -)
# Output per file: "== FILE", then razor-check's printable lines ("1.0 e4: SIG, ep4: EP4",
# "1.0 e8: SIG"), or "DIED" if the Perl code dies on the file. -v adds per part the SHA-1 of
# the signed text and of both cleaned texts.
# Never run it with network access: tests run it under `unshare -n`.
use strict;
use warnings;
no warnings;    # the Razor2 code is noisy under -w
use Digest::SHA qw(sha1_hex);
use Razor2::Client::Agent;

my $ep4 = '7542-10';
my $verbose = 0;
my @files;
for my $a (@ARGV) {
    if ($a =~ /^-ep4=(.*)$/) { $ep4 = $1; next; }
    if ($a eq '-v') { $verbose = 1; next; }
    if ($a eq '-') { while (my $l = <STDIN>) { chomp $l; push @files, $l if length $l; } next; }
    push @files, $a;
}

binmode STDOUT;
$| = 0;
for my $file (@files) {
    print "== $file\n";
    my $out = eval {
        my $agent = Razor2::Client::Agent->new('razor-check');
        $agent->{conf} = { report_headers => 1, debuglevel => 0 };
        $agent->{opt} = {};
        $agent->{s} = { engines => { 4 => 1, 8 => 1 }, conf => { ep4 => $ep4 } };
        local @ARGV = ($file);
        my $mails = $agent->parse_mbox({}) or return "NOMAIL\n";
        my $objects = $agent->prepare_objects($mails) or return "NOOBJ\n";
        my $sigs = $agent->compute_sigs($objects) or return "NOSIGS\n";
        my $s = join('', map { "$_\n" } @$sigs);
        if ($verbose) {
            for my $obj (@$objects) {
                next unless $obj->{p};
                for my $p (@{ $obj->{p} }) {
                    my $b = ref $p->{body} ? ${ $p->{body} } : $p->{body};
                    my $c = $p->{cleaned} ? ${ $p->{cleaned} } : undef;
                    my $c8 = $p->{cleaned_vr8} ? ${ $p->{cleaned_vr8} } : undef;
                    $s .= sprintf("# %s body=%s/%d cleaned=%s/%s vr8=%s/%s skip=%d\n",
                        $p->{id}, sha1_hex($b), length($b),
                        defined $c ? sha1_hex($c) : 'undef', defined $c ? length($c) : '-',
                        defined $c8 ? sha1_hex($c8) : 'undef', defined $c8 ? length($c8) : '-',
                        $p->{skipme} ? 1 : 0);
                }
            }
        }
        $s;
    };
    print defined $out ? $out : "DIED\n";
}
