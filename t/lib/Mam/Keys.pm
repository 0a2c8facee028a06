package Mam::Keys;
# One key per purpose (README, "Keys"), derived as the module does:
# HKDF-SHA256 (RFC 5869, no salt, 32 bytes) of the signing key with the
# purpose's label ("mam edge v1", "mam upload v1", "mam tus v1",
# "mam cursor v1") as info.  Test code for tests that sign URLs themselves.
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256);
use Exporter 'import';

our @EXPORT_OK = qw(hkdf_sha256 purpose_key);

sub hkdf_sha256 {
    my ($ikm, $info, $len, $salt) = @_;
    $salt = "\0" x 32 unless defined $salt && length $salt;
    my $prk = hmac_sha256($ikm, $salt);
    my ($t, $okm) = ('', '');
    for (my $i = 1; length($okm) < $len; $i++) {
        $t = hmac_sha256($t . $info . chr($i), $prk);
        $okm .= $t;
    }
    return substr($okm, 0, $len);
}

# the key for purpose (edge, upload, tus, cursor) of the signing key's bytes
sub purpose_key {
    my ($key, $purpose) = @_;
    return hkdf_sha256($key, "mam $purpose v1", 32);
}

1;
