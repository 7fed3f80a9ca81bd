package api

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMigrateRequestDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   MigrateRequest
		want MigrateRequest
	}{
		{"all zero", MigrateRequest{VM: "fw1", To: "hostB"}, MigrateRequest{VM: "fw1", To: "hostB",
			Bandwidth: 1 << 30, InitialBandwidth: 64 << 20, DowntimeTarget: Duration(50 * time.Millisecond),
			Postcopy: PostcopyAuto, CompletionTimeout: Duration(5 * time.Minute), TimeoutAction: TimeoutAbort, Pipe: PipeTCP, Codec: CodecNone, PostcopyPrefetch: PrefetchWorkingSet}},
		{"low bandwidth caps the first pass", MigrateRequest{Bandwidth: 8 << 20}, MigrateRequest{
			Bandwidth: 8 << 20, InitialBandwidth: 8 << 20, DowntimeTarget: DefaultDowntimeTarget,
			Postcopy: DefaultPostcopy, CompletionTimeout: DefaultCompletionTimeout, TimeoutAction: DefaultTimeoutAction, Pipe: DefaultPipe, Codec: DefaultCodec, PostcopyPrefetch: DefaultPostcopyPrefetch}},
		{"set fields kept", MigrateRequest{Bandwidth: 2 << 30, InitialBandwidth: 1 << 30, DowntimeTarget: Duration(time.Second),
			Postcopy: PostcopyNever, MultifdChannels: 4, CompletionTimeout: Duration(time.Minute), TimeoutAction: TimeoutPostcopy, Pipe: PipeTCP, Codec: CodecNone, PostcopyPrefetch: PrefetchWorkingSet},
			MigrateRequest{Bandwidth: 2 << 30, InitialBandwidth: 1 << 30, DowntimeTarget: Duration(time.Second),
				Postcopy: PostcopyNever, MultifdChannels: 4, CompletionTimeout: Duration(time.Minute), TimeoutAction: TimeoutPostcopy, Pipe: PipeTCP, Codec: CodecNone,
				PostcopyPrefetch: PrefetchWorkingSet}},
	} {
		got := tc.in
		got.Defaults()
		if got != tc.want {
			t.Errorf("%s: %+v\nwant %+v", tc.name, got, tc.want)
		}
		again := got
		again.Defaults()
		if again != got {
			t.Errorf("%s: Defaults twice changed %+v to %+v", tc.name, got, again)
		}
	}
}

func TestMigrateRequestMultifd(t *testing.T) {
	for _, tc := range []struct {
		postcopy string
		channels int
		want     int
	}{
		{PostcopyAuto, 0, 0},
		{PostcopyAlways, 0, 0},
		{PostcopyNever, 0, DefaultMultifdChannels},
		{PostcopyNever, 4, 4},
	} {
		r := MigrateRequest{Postcopy: tc.postcopy, MultifdChannels: tc.channels}
		if got := r.Multifd(); got != tc.want {
			t.Errorf("postcopy %s, multifd %d: %d channels, want %d", tc.postcopy, tc.channels, got, tc.want)
		}
	}
}

func TestMigrateRequestValidate(t *testing.T) {
	for _, tc := range []struct {
		edit    func(*MigrateRequest)
		mention string // "" for a valid request
	}{
		{func(*MigrateRequest) {}, ""},
		{func(r *MigrateRequest) { r.Postcopy, r.MultifdChannels = PostcopyNever, 16 }, ""},
		{func(r *MigrateRequest) { r.VM = "Fw1" }, "vm"},
		{func(r *MigrateRequest) { r.To = "" }, "destination"},
		{func(r *MigrateRequest) { r.Bandwidth = 1 << 19 }, "bandwidth"},
		{func(r *MigrateRequest) { r.InitialBandwidth = 2 << 30 }, "initial bandwidth"},
		{func(r *MigrateRequest) { r.DowntimeTarget = Duration(time.Microsecond) }, "downtime"},
		{func(r *MigrateRequest) { r.DowntimeTarget = Duration(2 * time.Minute) }, "downtime"},
		{func(r *MigrateRequest) { r.Postcopy = "maybe" }, "postcopy"},
		{func(r *MigrateRequest) { r.Postcopy, r.MultifdChannels = PostcopyNever, 17 }, "multifd channels 17"},
		{func(r *MigrateRequest) { r.MultifdChannels = -1 }, "multifd"},
		{func(r *MigrateRequest) { r.MultifdChannels = 2 }, "multifd channels with post-copy"},
		{func(r *MigrateRequest) { r.CompletionTimeout = Duration(time.Millisecond) }, "completion timeout"},
		{func(r *MigrateRequest) { r.TimeoutAction = "retry" }, "timeout action"},
		{func(r *MigrateRequest) { r.Postcopy, r.TimeoutAction = PostcopyNever, TimeoutPostcopy }, "needs post-copy"},
		{func(r *MigrateRequest) { r.PostcopyPrefetch = PrefetchWorkingSet }, ""},
		{func(r *MigrateRequest) { r.PostcopyPrefetch = "all" }, "postcopy prefetch"},
	} {
		r := MigrateRequest{VM: "fw1", To: "hostB"}
		r.Defaults()
		tc.edit(&r)
		err := r.Validate()
		switch {
		case tc.mention == "" && err != nil:
			t.Errorf("%+v refused: %v", r, err)
		case tc.mention != "" && (!errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), tc.mention)):
			t.Errorf("%+v: %v, want ErrInvalidRequest mentioning %q", r, err, tc.mention)
		}
	}
}
